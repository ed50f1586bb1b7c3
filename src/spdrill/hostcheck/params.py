"""Proof parameters: which files a sector size needs, and whether a host's parameter cache holds them intact.

Every Lotus role calls go-paramfetch's ``GetParams`` at start (daemon: cli/lotus/daemon.go:254 with size 0;
miner: node/builder_miner.go:67-69; worker: cli/worker/worker.go:482), and ``GetParams`` wants every file of
the manifest except the ``.params`` of other sector sizes (so every ``.vk`` of every size), plus the SRS
file of build/proof-params/srs-inner-product.json (go-paramfetch paramfetch.go ``GetParams``). A file that is
absent is downloaded, so an offline standby without it does not start.

The file list comes from Lotus's parameter manifest (`parameters.json`, the one `lotus fetch-params`
embeds). spdrill reads one named by the caller or `$SPDRILL_PROOF_PARAMS_MANIFEST`, the copy in
`../shared/lotus-api/proof-parameters.json` next to a source checkout, and otherwise falls back to the copy
of Lotus's list shipped in `spdrill/data/`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from spdrill.errors import InputError

DEFAULT_CACHE = "/var/tmp/filecoin-proof-parameters"  # go-paramfetch's default when the env var is unset
CACHE_ENV = "FIL_PROOFS_PARAMETER_CACHE"
MANIFEST_ENV = "SPDRILL_PROOF_PARAMS_MANIFEST"
FALLBACK = "proof-params.tsv"
DIGEST_HEX = 32  # Lotus compares the first 16 bytes of blake2b-512(file)
TRUST_ENV = "TRUST_PARAMS"  # "1": go-paramfetch skips hashing the .params files (not snap-deal ones) at start


@dataclass(frozen=True)
class ParamFile:
    """One entry of the manifest."""

    name: str
    digest: str
    sector_size: int


# build/proof-params/srs-inner-product.json @b835fab: the one SRS file GetParams also fetches (sector size 0).
SRS_INNER_PRODUCT = ParamFile("v28-fil-inner-product-v1.srs", "ae20310138f5ba81451d723f858e3797", 0)


@dataclass(frozen=True)
class Manifest:
    """The parameter files Lotus knows, and where that list came from."""

    files: tuple[ParamFile, ...]
    source: str

    def for_sector_size(self, size: int) -> tuple[ParamFile, ...]:
        """Every .params and .vk file of one sector size (what `lotus fetch-params <size>` fetches for it)."""
        return tuple(f for f in self.files if f.sector_size == size)

    def needed_at_start(self, size: int) -> tuple[ParamFile, ...]:
        """What a Lotus role of this sector size checks (or downloads) at start: go-paramfetch ``GetParams``
        skips only the ``.params`` of other sizes, so every ``.vk`` of every size, and adds the SRS file."""
        if not self.for_sector_size(size):
            return ()  # a size Lotus has no parameters for: nothing a role of it could start with
        wanted = [f for f in self.files if f.sector_size == size or not f.name.endswith(".params")]
        if SRS_INNER_PRODUCT.name not in {f.name for f in wanted}:
            wanted.append(SRS_INNER_PRODUCT)
        return tuple(sorted(wanted, key=lambda f: f.name))

    def sizes(self) -> list[int]:
        """The sector sizes the manifest knows."""
        return sorted({f.sector_size for f in self.files})


def parse_manifest(text: str, *, source: str) -> Manifest:
    """Parse Lotus's parameters.json (name → {cid, digest, sector_size}); InputError naming the bad entry."""
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: not JSON ({exc.msg} at line {exc.lineno}); expected Lotus's "
                         "parameters.json") from None
    if not isinstance(doc, dict):
        raise InputError(f"{source}: expected a JSON object of file name → entry, found {type(doc).__name__}")
    files = []
    for name, entry in doc.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("digest"), str)
                and isinstance(entry.get("sector_size"), int)):
            raise InputError(f"{source}: entry {name!r}: expected {{\"digest\": str, \"sector_size\": int}}")
        files.append(ParamFile(name, entry["digest"].lower(), entry["sector_size"]))
    return Manifest(tuple(sorted(files, key=lambda f: f.name)), source)


def parse_fallback(text: str, *, source: str) -> Manifest:
    """Parse the shipped tab-separated list (name, digest, sector size; # comments)."""
    files = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2].isdigit():
            raise InputError(f"{source}: line {n}: expected 'name<TAB>digest<TAB>sector size'")
        files.append(ParamFile(parts[0], parts[1].lower(), int(parts[2])))
    return Manifest(tuple(files), source)


def _checkout_manifest() -> Path:
    # src/spdrill/hostcheck/params.py → the repository root is three folders up; ../shared sits beside it.
    return Path(__file__).resolve().parents[3].parent / "shared" / "lotus-api" / "proof-parameters.json"


def load_manifest(path: Path | None = None) -> Manifest:
    """The manifest at `path`, else $SPDRILL_PROOF_PARAMS_MANIFEST, else the checkout's, else the fallback."""
    chosen = path or (Path(os.environ[MANIFEST_ENV]) if os.environ.get(MANIFEST_ENV) else None)
    if chosen is None and _checkout_manifest().is_file():
        chosen = _checkout_manifest()
    if chosen is not None:
        try:
            return parse_manifest(chosen.read_text(encoding="utf-8"), source=str(chosen))
        except OSError as exc:
            raise InputError(f"{chosen}: cannot read the proof-parameter manifest ({exc.strerror}); point "
                             f"{MANIFEST_ENV} at Lotus's build/proof-params/parameters.json") from None
    text = resources.files("spdrill").joinpath("data", FALLBACK).read_text(encoding="utf-8")
    return parse_fallback(text, source=f"spdrill/data/{FALLBACK} (Lotus's list as of b835fab)")


@dataclass(frozen=True)
class ParamsReport:
    """What the parameter cache of one host holds for one sector size."""

    cache_dir: str
    sector_size: int
    required: tuple[ParamFile, ...]
    missing: tuple[str, ...]
    empty: tuple[str, ...]
    bad_digest: tuple[str, ...] = ()
    digests_checked: bool = False

    @property
    def ok(self) -> bool:
        """Every required file present, non-empty and (when checked) with Lotus's digest."""
        return bool(self.required) and not (self.missing or self.empty or self.bad_digest)


def judge_listing(manifest: Manifest, sector_size: int, cache_dir: str,
                  listing: dict[str, int]) -> ParamsReport:
    """Compare a cache listing (file name → size in bytes) with what a role of `sector_size` needs at start."""
    required = manifest.needed_at_start(sector_size)
    missing = tuple(f.name for f in required if f.name not in listing)
    # A zero-length file is what an interrupted fetch leaves behind: present in name only.
    empty = tuple(f.name for f in required if listing.get(f.name) == 0)
    return ParamsReport(cache_dir, sector_size, required, missing, empty)


def judge_digests(report: ParamsReport, digests: dict[str, str]) -> ParamsReport:
    """Add blake2b verdicts (file name → full b2sum hex) the way Lotus checks them: the first 16 bytes."""
    bad = tuple(f.name for f in report.required
                if f.name in digests and digests[f.name][:DIGEST_HEX].lower() != f.digest[:DIGEST_HEX])
    return ParamsReport(report.cache_dir, report.sector_size, report.required, report.missing, report.empty,
                        bad, digests_checked=True)


def parse_listing(text: str) -> dict[str, int]:
    """Parse `find DIR -maxdepth 1 -type f -printf '%f\\t%s\\n'` output into file name → size."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, _, size = line.rpartition("\t")
        if name and size.isdigit():
            out[name] = int(size)
    return out


def parse_b2sum(text: str) -> dict[str, str]:
    """Parse `b2sum FILE…` output (GNU coreutils: `<hex>  <path>`) into file name → hex digest."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        digest, _, path = line.partition("  ")
        if path:
            out[path.rsplit("/", 1)[-1]] = digest.lstrip("\\").lower()
    return out


def describe(report: ParamsReport) -> str:
    """One line for a check message or the journal."""
    size = size_name(report.sector_size)
    if not report.required:
        return f"the manifest lists no proof parameters for {size} sectors"
    problems = []
    if report.missing:
        problems.append(f"{len(report.missing)} missing ({', '.join(report.missing[:3])}"
                        f"{', …' if len(report.missing) > 3 else ''})")
    if report.empty:
        problems.append(f"{len(report.empty)} empty ({', '.join(report.empty[:3])})")
    if report.bad_digest:
        bad = ", ".join(report.bad_digest[:3])
        problems.append(f"{len(report.bad_digest)} with a wrong blake2b digest ({bad})")
    if problems:
        return (f"{report.cache_dir}: of {len(report.required)} proof-parameter files for {size} sectors, "
                + "; ".join(problems))
    verified = ", digests verified" if report.digests_checked else ""
    n = len(report.required)
    return f"{report.cache_dir}: all {n} proof-parameter files for {size} sectors present{verified}"


def size_name(size: int) -> str:
    """"32GiB" for 34359738368, as `lotus fetch-params` takes it."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"
