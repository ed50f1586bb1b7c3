"""The signed evidence bundle: a tar.gz of the reports, a SHA-256 manifest and a detached ed25519 signature.

The manifest is `sha256sum` format, so `tar xzf B && sha256sum -c MANIFEST.sha256` checks the hashes too.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import io
import json
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from spdrill.errors import InputError
from spdrill.evidence.keys import key_id
from spdrill.redact import redact

MANIFEST = "MANIFEST.sha256"
SIGNATURE = "MANIFEST.sha256.sig"
SIG_HEADER = "spdrill-signature-v1"
REQUIRED = ("drill.json", "junit-drill.xml", "report.html")
OPTIONAL = ("junit-pytest.xml",)
BUNDLE_NAME = "evidence.tar.gz"
KEPT = (MANIFEST, SIGNATURE, "drill.json")  # small members verification reads; the rest is only hashed
MAX_KEPT = 16 * 2**20  # a bundle from elsewhere must not make verify hold gigabytes in memory


def collect(folder: Path) -> dict[str, bytes]:
    """The bundle's members from a drill folder: the reports and logs/*, each redacted once more."""
    missing = [n for n in REQUIRED if not (folder / n).is_file()]
    if missing:
        raise InputError(f"{folder}: missing {', '.join(missing)}; a bundle needs the drill's record, JUnit "
                         "and HTML report (written by the drill at teardown)")
    names = [*REQUIRED, *(n for n in OPTIONAL if (folder / n).is_file())]
    logs = folder / "logs"
    if logs.is_dir():
        names += [f"logs/{p.name}" for p in sorted(logs.iterdir()) if p.is_file()]
    # Redacting again costs little and means a bundle never carries a token, whoever wrote the files.
    return {n: redact((folder / n).read_text(encoding="utf-8", errors="replace")).encode() for n in names}


def manifest(members: dict[str, bytes]) -> bytes:
    """`sha256sum` lines for the members, sorted by name."""
    return "".join(f"{hashlib.sha256(members[n]).hexdigest()}  {n}\n" for n in sorted(members)).encode()


def signature_text(key: Ed25519PrivateKey, manifest_bytes: bytes) -> bytes:
    """The detached signature file: the raw signature plus which key and which manifest it speaks for."""
    sig = key.sign(manifest_bytes)
    return (f"{SIG_HEADER}\nalgorithm: ed25519\nkey-id: {key_id(key.public_key())}\n"
            f"manifest-sha256: {hashlib.sha256(manifest_bytes).hexdigest()}\n"
            f"signature: {base64.b64encode(sig).decode()}\n").encode()


def make_bundle(folder: Path, key: Ed25519PrivateKey, *, out: Path | None = None) -> Path:
    """Write `folder/evidence.tar.gz` (or `out`): members, manifest and signature; reproducible bytes."""
    members = collect(folder)
    man = manifest(members)
    members[MANIFEST] = man
    members[SIGNATURE] = signature_text(key, man)
    out = out or folder / BUNDLE_NAME
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(members[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(members[name]))
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
        tmp.replace(out)
    except OSError as exc:
        raise InputError(f"{out}: cannot write the evidence bundle ({exc.strerror}); free space or pass a "
                         "writable reports folder") from None
    return out


@dataclass(frozen=True)
class Problem:
    """One reason a bundle does not verify, naming the member at fault."""

    member: str
    message: str

    def __str__(self) -> str:
        return f"{self.member}: {self.message}"


@dataclass
class Verification:
    """What `verify_bundle` found: the problems (empty when valid) and the record for the summary."""

    bundle: Path
    members: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    record: dict[str, Any] | None = None
    key_id: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _members(bundle: Path) -> Iterator[tuple[str, str | None, bytes | None]]:
    """(name, sha256, bytes) per archive entry, hashed in chunks; bytes kept only for what is read later."""
    with tarfile.open(bundle, mode="r:gz") as tar:
        for info in tar:
            f = tar.extractfile(info) if info.isreg() else None
            if f is None:
                yield info.name, None, None
                continue
            keep = info.name in KEPT and info.size <= MAX_KEPT
            h, kept = hashlib.sha256(), bytearray()
            while chunk := f.read(1 << 20):
                h.update(chunk)
                if keep:
                    kept += chunk
            yield info.name, h.hexdigest(), bytes(kept) if keep else None


def _read_bundle(v: Verification) -> tuple[dict[str, str], dict[str, bytes]]:
    """Every member's SHA-256, and the bytes of the manifest, the signature and the record."""
    if not v.bundle.is_file():
        raise InputError(f"{v.bundle}: no such bundle file; pass the evidence.tar.gz of a drill")
    digests: dict[str, str] = {}
    kept: dict[str, bytes] = {}
    try:
        for name, digest, data in _members(v.bundle):
            v.members.append(name)
            p = PurePosixPath(name)
            if p.is_absolute() or ".." in p.parts or digest is None:
                v.problems.append(Problem(name, "unexpected entry (not a plain file inside the bundle)"))
            elif name in digests:
                v.problems.append(Problem(name, "appears twice in the archive"))
            else:
                digests[name] = digest
                if data is not None:
                    kept[name] = data
    except (tarfile.TarError, OSError, EOFError, zlib.error, binascii.Error) as exc:
        v.problems.append(Problem(v.bundle.name, f"not a readable tar.gz archive ({exc.__class__.__name__}): "
                                  "the bundle was damaged or altered"))
    for name in KEPT:
        if name in digests and name not in kept:
            v.problems.append(Problem(name, f"larger than {MAX_KEPT >> 20} MiB: not what spdrill writes"))
            digests.pop(name)
    return digests, kept


def _check_signature(v: Verification, man: bytes, sig_file: bytes, public: Ed25519PublicKey) -> bool:
    """Check the signature; False when the manifest itself was altered (its lines then prove nothing)."""
    fields: dict[str, str] = {}
    lines = sig_file.decode("utf-8", errors="replace").splitlines()
    for line in lines[1:]:
        k, _, val = line.partition(": ")
        fields[k] = val.strip()
    try:
        sig = base64.b64decode(fields.get("signature", ""), validate=True)
    except binascii.Error:
        sig = b""
    if not lines or lines[0] != SIG_HEADER or len(sig) != 64 or fields.get("algorithm") != "ed25519":
        v.problems.append(Problem(SIGNATURE, "malformed signature file (altered, or not written by spdrill)"))
        return True
    if fields.get("key-id") != v.key_id:
        v.problems.append(Problem(SIGNATURE, f"signed with another key (key id {fields.get('key-id')}), "
                                  f"not the given public key (key id {v.key_id})"))
        return True
    if fields.get("manifest-sha256") != hashlib.sha256(man).hexdigest():
        v.problems.append(Problem(MANIFEST, "altered after signing: not the manifest the signature covers"))
        return False
    try:
        public.verify(sig, man)
    except InvalidSignature:
        v.problems.append(Problem(SIGNATURE, "the ed25519 signature does not verify over the manifest: the "
                                  "signature was altered"))
    return True


def _check_manifest(v: Verification, man: bytes, found: dict[str, str]) -> None:
    listed: dict[str, str] = {}
    for n, line in enumerate(man.decode("utf-8", errors="replace").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or name in listed:
            v.problems.append(Problem(MANIFEST, f"line {n} is not '<sha256>  <member>' or repeats a member"))
            continue
        listed[name] = digest
    for name, digest in listed.items():
        if name not in found:
            v.problems.append(Problem(name, "missing from the bundle but listed in the manifest"))
        elif found[name] != digest:
            v.problems.append(Problem(name, "altered: its SHA-256 does not match the manifest"))
    for name in found:
        if name not in listed and name not in (MANIFEST, SIGNATURE):
            v.problems.append(Problem(name, "extra member: not listed in the signed manifest"))
    for name in REQUIRED:
        if name not in listed and name not in found:
            v.problems.append(Problem(name, "missing: every bundle carries it"))


def verify_bundle(bundle: Path, public: Ed25519PublicKey) -> Verification:
    """Recompute every hash, check the manifest's signature with `public`, and name each member at fault."""
    v = Verification(bundle=bundle, key_id=key_id(public))
    found, kept = _read_bundle(v)
    if v.problems and not found:
        return v
    man, sig = kept.get(MANIFEST), kept.get(SIGNATURE)
    if man is None:
        v.problems.append(Problem(MANIFEST, "missing: nothing in the bundle can be checked"))
        return v
    if sig is None:
        v.problems.append(Problem(SIGNATURE, "missing: the bundle is not signed"))
    elif not _check_signature(v, man, sig, public):
        return v
    _check_manifest(v, man, found)
    if "drill.json" in kept:
        try:
            loaded = json.loads(kept["drill.json"])
            v.record = loaded if isinstance(loaded, dict) else None
        except ValueError:
            v.record = None  # a hash problem already names it
    return v
