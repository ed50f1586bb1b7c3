"""PoSt workers fetch vanilla proofs from `http://<[API] RemoteListenAddress>/remote`, not from files.

Models lotus storage/sealer/worker_local.go:694 -> storage/paths/remote.go:822-880 (POST
`<BaseURL>/vanilla/single` for each URL of StorageFindSector; a URL where nothing answers is logged and
skipped), node/builder.go:290-295 (BaseURL = "http://" + cfg.API.RemoteListenAddress + "/remote", attached
at storage/paths/local.go:244), node/config/def.go:223 (default 127.0.0.1:2345) and envconfig
`LOTUS_API_REMOTELISTENADDRESS` (node/config/load.go:98). With the production address kept, a dry-run on
a host where the live miner answers there proves the live storage (LOTUS-AUDIT.md blocker 2).
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lotus_sim.bitfield import decode_runs
from lotus_sim.rpcclient import CallError
from tests.sim.simproc import Proc, Stand, make_stand


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _set_remote(repo: Path, address: str) -> None:
    config = repo / "config.toml"
    text = config.read_text()
    assert 'RemoteListenAddress = "127.0.0.1:2345"' in text  # the fixture's production value
    config.write_text(text.replace('RemoteListenAddress = "127.0.0.1:2345"', f'RemoteListenAddress = "{address}"'))


@pytest.fixture
def stand(tmp_path: Path) -> Iterator[Stand]:
    s = make_stand(tmp_path, sectors=8, deadlines=1)
    assert s.import_snapshot().returncode == 0
    s.start_daemon()
    try:
        yield s
    finally:
        s.stop_all()


def _standby_storage_missing(stand: Stand, tmp_path: Path) -> int:
    """Give the standby its own copy of the storage, with the first sector's sealed file lost; return it.

    Its cache folder stays, so the standby's index still lists the sector with the /remote URLs.
    """
    storage = tmp_path / "standby-storage"
    shutil.copytree(stand.root / "restore-point" / "storage", storage)
    layout = json.loads((stand.miner_repo / "storage.json").read_text())
    old = str(stand.root / "restore-point" / "storage")
    for entry in layout["StoragePaths"]:
        entry["Path"] = entry["Path"].replace(old, str(storage))
    (stand.miner_repo / "storage.json").write_text(json.dumps(layout))
    lost = int(stand.info["deadlines"]["0"][0][0])
    for sealed in storage.glob(f"store-*/sealed/s-t0{stand.info['miner_id']}-{lost}"):
        sealed.unlink()
    return lost


def _live_miner(stand: Stand, tmp_path: Path, port: int) -> Proc:
    """The production miner: same actor and restore point, its full storage, serving on `port`."""
    live_repo = tmp_path / "live-miner"
    shutil.copytree(stand.root / "restore-point" / "lotus-miner", live_repo)
    env = {"LOTUS_MINER_PATH": str(live_repo), "LOTUS_API_REMOTELISTENADDRESS": f"127.0.0.1:{port}"}
    return stand._start("live-miner", "lotus-miner", ["run", "--miner-api", str(port), "--nosync"], live_repo,
                        env, True)


def _skipped(result: list[dict[str, object]]) -> list[int]:
    parts = result[0]["Partitions"]
    assert isinstance(parts, list)
    return sorted(n for p in parts for n in decode_runs(p["Skipped"]))


def test_storage_find_sector_reports_the_remote_listen_address(stand: Stand) -> None:
    _set_remote(stand.miner_repo, "10.0.0.7:2345")
    stand.start_miner(env={"LOTUS_API_REMOTELISTENADDRESS": ""})  # empty = not set: config.toml's value
    sector = {"Miner": stand.info["miner_id"], "Number": 0}
    found = stand.miner().call("StorageFindSector", sector, 6, 0, False)
    assert found and found[0]["BaseURLs"] == ["http://10.0.0.7:2345/remote"]


def test_production_address_with_a_live_miner_there_is_a_false_pass(stand: Stand, tmp_path: Path) -> None:
    production = _free_port()  # stands for 127.0.0.1:2345 on the production host
    _set_remote(stand.miner_repo, f"127.0.0.1:{production}")
    lost = _standby_storage_missing(stand, tmp_path)
    stand.start_miner(env={"LOTUS_API_REMOTELISTENADDRESS": ""})  # the drill did not override it
    _live_miner(stand, tmp_path, production)
    stand.start_worker()
    result = stand.miner().call("ComputeWindowPoSt", 0, [])
    # The standby lost sector `lost`, yet nothing is skipped: the live miner served its vanilla proof
    # (the restored token is valid there, as both share the production JWT secret).
    assert lost in range(8) and _skipped(result) == []


def test_standby_own_address_proves_its_own_storage(stand: Stand, tmp_path: Path) -> None:
    production = _free_port()
    _set_remote(stand.miner_repo, f"127.0.0.1:{production}")
    lost = _standby_storage_missing(stand, tmp_path)
    stand.start_miner()  # simproc sets LOTUS_API_REMOTELISTENADDRESS to the standby's own port: the fix
    _live_miner(stand, tmp_path, production)
    stand.start_worker()
    result = stand.miner().call("ComputeWindowPoSt", 0, [])
    assert _skipped(result) == [lost]


def test_nothing_at_the_address_skips_every_sector(stand: Stand) -> None:
    _set_remote(stand.miner_repo, f"127.0.0.1:{_free_port()}")  # nobody listens there
    stand.start_miner(env={"LOTUS_API_REMOTELISTENADDRESS": ""})
    worker = stand.start_worker()
    with pytest.raises(CallError, match="skipped"):
        stand.miner().call("ComputeWindowPoSt", 0, [])
    assert "GenerateSingleVanillaProof do request failed" in worker.output()


def test_remote_needs_an_admin_token(stand: Stand) -> None:
    import urllib.error
    import urllib.request

    stand.start_miner()
    api = (stand.miner_repo / "api").read_text().split("/")
    url = f"http://{api[2]}:{api[4]}/remote/vanilla/single"
    body = json.dumps({"Miner": stand.info["miner_id"], "Sector": {"SectorNumber": 0}, "ProofType": 10}).encode()
    read_token = stand.miner().call("AuthNew", ["read"])
    import base64

    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Authorization": f"Bearer {base64.b64decode(read_token).decode()}"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 401  # node/impl/storminer.go:98-108
    admin = (stand.miner_repo / "token").read_text().strip()
    ok = urllib.request.Request(url, data=body, method="POST", headers={"Authorization": f"Bearer {admin}"})
    with urllib.request.urlopen(ok, timeout=10) as response:
        assert response.status == 200 and len(response.read()) == 64
