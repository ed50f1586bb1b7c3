"""Proof-parameter checks: manifests, the shipped fallback list, a real cache folder read via testinfra."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import pytest
import testinfra

from spdrill.errors import InputError
from spdrill.hostcheck import checks, params

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SHARED_MANIFEST = SHARED / "lotus-api" / "proof-parameters.json"
KIB2 = 2048


def _b2(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=64).hexdigest()[:32]


@pytest.fixture()
def cache(tmp_path: Path) -> tuple[Path, params.Manifest]:
    """A parameter cache with two 2KiB files and the SRS, and a manifest whose digests match them."""
    files = {"v28-demo-2k.params": b"params-bytes", "v28-demo-2k.vk": b"vk-bytes"}
    doc = {name: {"cid": "Qm", "digest": _b2(data), "sector_size": KIB2} for name, data in files.items()}
    files[params.SRS_INNER_PRODUCT.name] = b"srs-bytes"
    doc[params.SRS_INNER_PRODUCT.name] = {"cid": "Qm", "digest": _b2(b"srs-bytes"), "sector_size": 0}
    doc["v28-demo-32g.params"] = {"cid": "Qm", "digest": "0" * 32, "sector_size": 32 * 2**30}
    folder = tmp_path / "params"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder, params.parse_manifest(json.dumps(doc), source="test manifest")


def _lotus_manifest() -> params.Manifest:
    if not SHARED_MANIFEST.is_file():
        pytest.skip(f"{SHARED_MANIFEST} is absent (the shared Lotus documents are not checked out)")
    return params.parse_manifest(SHARED_MANIFEST.read_text(), source=str(SHARED_MANIFEST))


def test_shipped_fallback_agrees_with_lotus_manifest() -> None:
    lotus = _lotus_manifest()
    text = resources.files("spdrill").joinpath("data", params.FALLBACK).read_text()
    shipped = params.parse_fallback(text, source="shipped")
    # Every file of Lotus's build/proof-params/parameters.json, plus the SRS of srs-inner-product.json.
    assert tuple(f for f in shipped.files if f.sector_size) == lotus.files
    assert [f for f in shipped.files if not f.sector_size] == [params.SRS_INNER_PRODUCT]
    for size in lotus.sizes():
        assert shipped.needed_at_start(size) == lotus.needed_at_start(size)


def test_needed_at_start_is_what_get_params_fetches() -> None:
    # go-paramfetch paramfetch.go GetParams: `if storageSize != info.SectorSize && strings.HasSuffix(name,
    # ".params") { continue }`, then every entry of the SRS list (Lotus build/proof-params/srs-inner-product.json);
    # called by the daemon with size 0 (cli/lotus/daemon.go:254), the worker (cli/worker/worker.go:482), the
    # miner (node/builder_miner.go:67-69).
    lotus = _lotus_manifest()
    size = 32 * 2**30
    needed = {f.name for f in lotus.needed_at_start(size)}
    vks = {f.name for f in lotus.files if f.name.endswith(".vk")}
    own = {f.name for f in lotus.files if f.sector_size == size and f.name.endswith(".params")}
    assert len(lotus.sizes()) == 5 and len(vks) == 20 and len(own) == 4
    assert needed == vks | own | {"v28-fil-inner-product-v1.srs"}
    assert params.SRS_INNER_PRODUCT.digest == "ae20310138f5ba81451d723f858e3797"  # srs-inner-product.json
    other = {f.name for f in lotus.files if f.name.endswith(".params") and f.sector_size != size}
    assert not needed & other


def test_manifest_is_found_from_env_then_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    custom = tmp_path / "parameters.json"
    custom.write_text(json.dumps({"a.vk": {"digest": "ab" * 16, "sector_size": KIB2}}))
    monkeypatch.setenv(params.MANIFEST_ENV, str(custom))
    assert params.load_manifest().source == str(custom)
    monkeypatch.delenv(params.MANIFEST_ENV)
    source = params.load_manifest().source
    assert source == str(SHARED_MANIFEST) if SHARED_MANIFEST.is_file() else "Lotus's list" in source


@pytest.mark.parametrize("text, words", [
    ("not json", "not JSON"), ("[]", "JSON object"), ('{"x.vk": {"digest": 1}}', "entry 'x.vk'")])
def test_bad_manifest_names_the_problem(text: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        params.parse_manifest(text, source="m.json")


def test_complete_cache_passes_with_digests(cache: tuple[Path, params.Manifest]) -> None:
    folder, manifest = cache
    host = testinfra.get_host("local://")
    report = checks.proof_params(host, manifest, KIB2, str(folder), verify_digests=True)
    assert report.ok and report.digests_checked
    assert params.describe(report).endswith("all 3 proof-parameter files for 2KiB sectors present, "
                                            "digests verified")


def test_missing_empty_and_corrupt_files_fail(cache: tuple[Path, params.Manifest]) -> None:
    folder, manifest = cache
    host = testinfra.get_host("local://")
    (folder / "v28-demo-2k.vk").unlink()
    missing = checks.proof_params(host, manifest, KIB2, str(folder))
    assert not missing.ok and missing.missing == ("v28-demo-2k.vk",)
    (folder / "v28-demo-2k.vk").write_bytes(b"")
    assert checks.proof_params(host, manifest, KIB2, str(folder)).empty == ("v28-demo-2k.vk",)
    (folder / "v28-demo-2k.vk").write_bytes(b"vk-bytes")
    (folder / "v28-demo-2k.params").write_bytes(b"params-bytez")
    corrupt = checks.proof_params(host, manifest, KIB2, str(folder), verify_digests=True)
    assert corrupt.bad_digest == ("v28-demo-2k.params",)
    assert "wrong blake2b digest" in params.describe(corrupt)
    assert checks.proof_params(host, manifest, KIB2, str(folder)).ok  # without digests the size check passes


def test_absent_cache_folder_reports_every_file_missing(tmp_path: Path) -> None:
    manifest = params.load_manifest()
    report = checks.proof_params(testinfra.get_host("local://"), manifest, 32 * 2**30, str(tmp_path / "none"))
    # 32GiB: its 4 .params, the 20 .vk of all five sizes and the SRS file (test above).
    assert not report.ok and len(report.missing) == len(report.required) == 25


def test_no_files_for_a_sector_size_is_not_ok() -> None:
    report = params.judge_listing(params.load_manifest(), 12345, "/p", {})
    assert not report.ok and "lists no proof parameters" in params.describe(report)


def test_cache_dir_prefers_the_plan_env(monkeypatch: pytest.MonkeyPatch) -> None:
    host = testinfra.get_host("local://")
    assert checks.param_cache_dir(host, {params.CACHE_ENV: "/plan/params"}) == "/plan/params"
    monkeypatch.setenv(params.CACHE_ENV, "/host/params")
    assert checks.param_cache_dir(host, {}) == "/host/params"
    monkeypatch.delenv(params.CACHE_ENV)
    assert checks.param_cache_dir(host, {}) == params.DEFAULT_CACHE
