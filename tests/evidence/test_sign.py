"""Signed evidence bundles: keygen, bundle, verify; each member tampered in turn is named; tools agree."""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spdrill.evidence import write_drill_reports
from spdrill.evidence.cli import dispatch, register
from spdrill.evidence.keys import keygen, load_private_key, load_public_key
from spdrill.evidence.sign import MANIFEST, SIGNATURE, make_bundle, verify_bundle
from spdrill.journal import Journal


def cli(*argv: str) -> int:
    p = argparse.ArgumentParser()
    register(p.add_subparsers(dest="command"))
    rc = dispatch(p.parse_args(list(argv)))
    assert rc is not None
    return rc


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return keygen(tmp_path / "keys")


@pytest.fixture
def bundle(tmp_path: Path, journal: Journal, logs: dict[str, str], keys: tuple[Path, Path]) -> Path:
    folder = write_drill_reports(journal, logs, tmp_path / "drill")
    (folder / "junit-pytest.xml").write_text('<testsuites><testsuite name="pytest"/></testsuites>\n')
    return make_bundle(folder, load_private_key(keys[0]))


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {i.name: tar.extractfile(i).read() for i in tar if i.isreg()}  # type: ignore[union-attr]


def rewrite(path: Path, change: Callable[[dict[str, bytes]], dict[str, bytes]]) -> None:
    """Rebuild the archive with some members changed, as someone editing a bundle would."""
    new = change(members(path))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in new.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(raw.getvalue()))


def test_keygen_writes_a_private_pem_0600_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("keygen", "--out", str(tmp_path / "k")) == 0
    key, pub = tmp_path / "k" / "drill-signing.key", tmp_path / "k" / "drill-signing.pub"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert pub.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    out = capsys.readouterr()
    secret_line = key.read_text().splitlines()[1]
    assert secret_line not in out.out + out.err
    before = key.read_bytes()
    assert cli("keygen", "--out", str(tmp_path / "k")) == 2
    assert key.read_bytes() == before
    assert "already exists" in capsys.readouterr().err


def test_bundle_has_every_member_and_verifies(
    bundle: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    names = set(members(bundle))
    assert names == {
        "drill.json",
        "junit-drill.xml",
        "junit-pytest.xml",
        "report.html",
        "logs/daemon.log",
        "logs/miner.log",
        MANIFEST,
        SIGNATURE,
    }
    v = verify_bundle(bundle, load_public_key(keys[1]))
    assert v.ok, v.problems
    assert cli("verify", str(bundle), "--pubkey", str(keys[1])) == 0
    out = capsys.readouterr().out
    assert "VALID" in out and "20261126T131500Z-3f9a1c" in out and "PASS" in out and "SIMULATED" in out
    assert "tank/lotus@nightly-2026-11-26" in out


def test_bundle_is_reproducible(tmp_path: Path, bundle: Path, keys: tuple[Path, Path]) -> None:
    again = make_bundle(bundle.parent, load_private_key(keys[0]), out=tmp_path / "again.tar.gz")
    assert again.read_bytes() == bundle.read_bytes()  # ed25519 signatures are deterministic


MEMBERS = [
    "drill.json",
    "junit-drill.xml",
    "junit-pytest.xml",
    "report.html",
    "logs/daemon.log",
    "logs/miner.log",
    MANIFEST,
    SIGNATURE,
]


@pytest.mark.parametrize("member", MEMBERS)
def test_tampering_with_any_member_is_named(
    bundle: Path, keys: tuple[Path, Path], member: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def flip(m: dict[str, bytes]) -> dict[str, bytes]:
        data = bytearray(m[member])
        i = len(data) - 20 if member == SIGNATURE else len(data) // 2  # inside the base64 signature
        data[i] = ord("A") if data[i] != ord("A") else ord("B")
        return {**m, member: bytes(data)}

    rewrite(bundle, flip)
    v = verify_bundle(bundle, load_public_key(keys[1]))
    assert [p.member for p in v.problems] == [member], v.problems
    assert cli("verify", str(bundle), "--pubkey", str(keys[1])) == 1
    err = capsys.readouterr().err
    assert "INVALID" in err and f"  {member}: " in err


@pytest.mark.parametrize("member", ["report.html", "logs/miner.log", MANIFEST, SIGNATURE])
def test_a_missing_member_is_named(bundle: Path, keys: tuple[Path, Path], member: str) -> None:
    rewrite(bundle, lambda m: {k: v for k, v in m.items() if k != member})
    problems = verify_bundle(bundle, load_public_key(keys[1])).problems
    assert problems and problems[0].member == member and "missing" in problems[0].message


def test_an_extra_or_doubled_member_is_named(bundle: Path, keys: tuple[Path, Path]) -> None:
    rewrite(bundle, lambda m: {**m, "logs/extra.log": b"planted\n"})
    assert [str(p) for p in verify_bundle(bundle, load_public_key(keys[1])).problems] == [
        "logs/extra.log: extra member: not listed in the signed manifest"
    ]
    original = members(bundle)
    raw = io.BytesIO()
    with tarfile.open(
        fileobj=raw, mode="w"
    ) as tar:  # tar lets a name appear twice; extraction keeps the last
        for name, data in [*original.items(), ("drill.json", b'{"verdict": "pass"}')]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    bundle.write_bytes(gzip.compress(raw.getvalue()))
    assert "drill.json" in [p.member for p in verify_bundle(bundle, load_public_key(keys[1])).problems]


def test_a_member_and_its_manifest_line_changed_together_fail_on_the_manifest(
    bundle: Path, keys: tuple[Path, Path]
) -> None:
    import hashlib

    def forge(m: dict[str, bytes]) -> dict[str, bytes]:
        fake = m["drill.json"].replace(b'"verdict": "pass"', b'"verdict": "fail"')
        old, new = hashlib.sha256(m["drill.json"]).hexdigest(), hashlib.sha256(fake).hexdigest()
        return {**m, "drill.json": fake, MANIFEST: m[MANIFEST].replace(old.encode(), new.encode())}

    rewrite(bundle, forge)
    assert [p.member for p in verify_bundle(bundle, load_public_key(keys[1])).problems] == [MANIFEST]


def test_wrong_key_is_exit_1_naming_the_signature(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, other = keygen(tmp_path / "other")
    assert cli("verify", str(bundle), "--pubkey", str(other)) == 1
    assert f"{SIGNATURE}: signed with another key" in capsys.readouterr().err


def test_damaged_archive_is_exit_1(
    bundle: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bundle.write_bytes(bytes(data))
    assert cli("verify", str(bundle), "--pubkey", str(keys[1])) == 1
    assert "evidence.tar.gz" in capsys.readouterr().err


def test_usage_errors_are_exit_2_without_traceback(
    tmp_path: Path, bundle: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key\n")
    assert cli("verify", str(bundle), "--pubkey", str(bad)) == 2
    assert cli("verify", str(tmp_path / "nope.tar.gz"), "--pubkey", str(keys[1])) == 2
    assert cli("verify", str(bundle), "--pubkey", str(tmp_path / "missing.pub")) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "not an ed25519 public key" in err and "no such bundle" in err


def test_private_key_errors_never_quote_the_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from spdrill.errors import InputError

    ecpem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = tmp_path / "ec.key"
    path.write_bytes(ecpem)
    with pytest.raises(InputError, match="expected ed25519") as exc:
        load_private_key(path)
    assert ecpem.decode().splitlines()[1] not in str(exc.value)


def test_openssh_public_key_is_accepted(bundle: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    ssh = tmp_path / "id.pub"
    ssh.write_bytes(
        load_public_key(keys[1]).public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
    )
    assert verify_bundle(bundle, load_public_key(ssh)).ok


def test_sha256sum_and_openssl_agree_with_the_bundle(
    bundle: Path, keys: tuple[Path, Path], tmp_path: Path, kit: Any
) -> None:
    """Independent tools: a customer without spdrill can check the hashes and the signature."""
    if not shutil.which("sha256sum") or not shutil.which("openssl"):
        kit.unavailable("sha256sum or openssl missing (coreutils, openssl)")
    out = tmp_path / "x"
    out.mkdir()
    with tarfile.open(bundle, "r:gz") as tar:
        tar.extractall(out, filter="data")
    done = subprocess.run(["sha256sum", "--strict", "-c", MANIFEST], cwd=out, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    sig_b64 = next(
        line.split(": ", 1)[1]
        for line in (out / SIGNATURE).read_text().splitlines()
        if line.startswith("signature: ")
    )
    (out / "sig.bin").write_bytes(base64.b64decode(sig_b64))
    ok = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            str(keys[1]),
            "-rawin",
            "-in",
            str(out / MANIFEST),
            "-sigfile",
            str(out / "sig.bin"),
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout, ok.stdout + ok.stderr
    (out / MANIFEST).write_text((out / MANIFEST).read_text() + "\n")
    bad = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            str(keys[1]),
            "-rawin",
            "-in",
            str(out / MANIFEST),
            "-sigfile",
            str(out / "sig.bin"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0


def test_verify_json_output(
    bundle: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert cli("verify", str(bundle), "--pubkey", str(keys[1]), "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is True and out["problems"] == [] and out["verdict"] == "pass"
    rewrite(bundle, lambda m: {k: v for k, v in m.items() if k != "report.html"})
    assert cli("verify", str(bundle), "--pubkey", str(keys[1]), "--json") == 1
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is False and out["problems"][0]["member"] == "report.html"


def test_an_oversized_manifest_is_refused_not_loaded(
    bundle: Path, keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import spdrill.evidence.sign as sign

    monkeypatch.setattr(sign, "MAX_KEPT", 100)  # the real manifest is larger than this
    problems = verify_bundle(bundle, load_public_key(keys[1])).problems
    assert [p.member for p in problems][:2] == [MANIFEST, SIGNATURE] and "larger than" in problems[0].message
