"""CheckProvable reads CommR from the miner's sealing state before any file.

Models lotus node/impl/storminer.go:554-566 (CommR from `sm.Miner.SectorsStatus`, i.e.
storage/pipeline/utils.go:28-31 `GetSectorInfo`) and storage/sealer/faults.go:79-83 (`getting commR: %s`):
a sector on chain but absent from the restored metadata is bad, whatever its files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lotus_sim.miner import commr_missing
from lotus_sim.world import MinerMetadata
from tests.sim.simproc import Stand, make_stand


@pytest.fixture
def stand(tmp_path: Path) -> Iterator[Stand]:
    s = make_stand(tmp_path, sectors=8, deadlines=1, sectors_after_backup=2)
    s.fault("repo-from-backup")
    assert s.import_snapshot().returncode == 0
    s.start_daemon()
    try:
        yield s
    finally:
        s.stop_all()


def test_commr_reason_is_lotus_wording() -> None:
    # faults.go:81 fmt.Sprintf("getting commR: %s", err); go-statestore state.go StoredState.Get:
    # xerrors.Errorf("No state for %s: %w", st.name, err) with err = go-datastore ErrNotFound.
    assert commr_missing(7) == "getting commR: No state for /7: datastore: key not found"


def test_fault_repo_from_backup_drops_sectors_sealed_after_the_backup(stand: Stand) -> None:
    md = MinerMetadata.from_repo(stand.miner_repo)
    assert list(md.sectors) == list(range(6))
    assert stand.info["faults"][-1]["dropped"] == 2


def test_sector_missing_from_sealing_state_is_bad_whatever_its_files(stand: Stand) -> None:
    stand.start_miner()
    miner = stand.miner()
    ppt = int(stand.info["window_post_proof"])
    refs = [{"ID": {"Miner": stand.info["miner_id"], "Number": n}, "ProofType": stand.info["seal_proof"]}
            for n in range(8)]
    bad = miner.call("CheckProvable", ppt, refs)
    # Sectors 6 and 7 have sealed files in storage (the fixture wrote them) but no sealing state.
    assert bad == {"6": commr_missing(6), "7": commr_missing(7)}
    assert miner.call("SectorsList") == list(range(6))


def test_without_the_fault_every_sector_with_files_is_good(tmp_path: Path) -> None:
    s = make_stand(tmp_path, sectors=8, deadlines=1, sectors_after_backup=2)
    assert s.import_snapshot().returncode == 0
    s.start_daemon()
    try:
        s.start_miner()
        refs = [{"ID": {"Miner": s.info["miner_id"], "Number": n}, "ProofType": s.info["seal_proof"]}
                for n in range(8)]
        assert s.miner().call("CheckProvable", int(s.info["window_post_proof"]), refs) == {}
    finally:
        s.stop_all()
