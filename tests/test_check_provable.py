"""CheckProvable on the standby: one call per partition with a timeout longer than Lotus's own bound, and
`getting commR` answers kept apart from missing or damaged files.

Lotus facts this relies on (filecoin-project/lotus @b835fab):
- `lotus-miner proving check` calls CheckProvable once per partition (cli/miner/proving.go:160-189).
- The server bounds one call by [Proving] PartitionCheckTimeout (storage/sealer/faults.go:51-55; 20 minutes,
  node/config/def.go:149), so a client timeout must exceed it.
- CheckProvable reads CommR from the miner's local sealing state (node/impl/storminer.go:554-566); a sector
  missing there is reported as "getting commR: <err>" (storage/sealer/faults.go:79-83) whatever its files.
  WindowPoSt itself uses the on-chain sealed CIDs (storage/wdpost/wdpost_run.go:184-237).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from spdrill.bringup.probes import PoStError, StandbyProbe
from spdrill.exposure import DeadlineClock
from spdrill.lotus import ApiInfo, Bitfield, FullNodeClient, MinerClient, encode_json
from spdrill.lotus.miner import CHECK_PROVABLE_TIMEOUT_S, split_provable_bad
from spdrill.lotus.types import Partition
from spdrill.reconcile import ReconciliationReport, build_report, intervals_of, provable_problem
from spdrill.reconcile_probe import SectorScan, _check_provable

PARTITION_CHECK_TIMEOUT_S = 20 * 60  # node/config/def.go:149
NOT_IN_STATE = "getting commR: datastore: key not found"  # faults.go:79-83 prefix, the sealing-state lookup's error
CID = {"/": "bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4"}
MINER_INFO = {"Owner": "f01001", "Worker": "f01002", "ControlAddresses": None, "PeerId": None,
              "WindowPoStProofType": 8, "SectorSize": 34359738368, "WindowPoStPartitionSectors": 2349,
              "ConsensusFaultElapsed": -1, "Beneficiary": "f01001"}
# Deadline 2 holds two partitions: sectors 0-9 and 10-19; every other deadline is empty.
PARTITIONS = {2: [set(range(0, 10)), set(range(10, 20))]}


def _bf(members: set[int]) -> Any:
    return encode_json(Bitfield.from_iterable(members))


class FakeStandby:
    """A daemon and a miner answering like Lotus, with CheckProvable answers per sector."""

    def __init__(self, reasons: dict[int, str]) -> None:
        self.reasons = reasons
        self.checks: list[tuple[list[int], Any]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        method, params = body["method"].removeprefix("Filecoin."), body["params"]
        if method == "StateMinerInfo":
            result: Any = MINER_INFO
        elif method == "StateMinerPartitions":
            result = [{k: _bf(live) for k in ("AllSectors", "LiveSectors", "ActiveSectors")}
                      | {"FaultySectors": [0], "RecoveringSectors": [0]} for live in PARTITIONS.get(params[1], [])]
        elif method == "StateMinerSectors":
            from spdrill.lotus.bitfield import decode_json

            result = [{"SectorNumber": n, "SealProof": 8, "SealedCID": CID, "Activation": 1, "Expiration": 9}
                      for n in decode_json(params[1]).to_list()]
        elif method == "CheckProvable":
            numbers = [ref["ID"]["Number"] for ref in params[1]]
            self.checks.append((numbers, request.extensions.get("timeout")))
            result = {str(n): self.reasons[n] for n in numbers if n in self.reasons}
        else:
            raise AssertionError(method)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": result})

    def clients(self) -> tuple[FullNodeClient, MinerClient]:
        info = ApiInfo.parse("T:/ip4/127.0.0.1/tcp/1234/http")
        t = httpx.MockTransport(self.handler)
        return FullNodeClient(info, transport=t), MinerClient(info, transport=t)


class _Target:
    def exit_code(self, role: str) -> int | None:
        return None


def _probe() -> StandbyProbe:
    return StandbyProbe(_Target(), "miner")  # type: ignore[arg-type]


def test_split_keeps_getting_commr_apart() -> None:
    files, unknown = split_provable_bad({1: "sealed file missing", 2: NOT_IN_STATE, 3: "getting commR: commr is nil",
                                         4: "waiting for check worker: context deadline exceeded"})
    assert sorted(files) == [1, 4] and sorted(unknown) == [2, 3]


def test_one_call_per_partition_with_a_timeout_past_lotus_own() -> None:
    fake = FakeStandby({})
    full, miner = fake.clients()
    found = _probe().check_provable(full, miner, "f01000")
    detail = found.detail
    assert [numbers for numbers, _ in fake.checks] == [list(range(0, 10)), list(range(10, 20))]
    assert all(t["read"] > PARTITION_CHECK_TIMEOUT_S for _, t in fake.checks)
    assert CHECK_PROVABLE_TIMEOUT_S > PARTITION_CHECK_TIMEOUT_S
    assert (found.deadlines, found.partitions, found.sectors_checked) == (1, 2, 20)
    assert detail == "20 of 20 live sectors in 1 deadlines (2 partitions) provable"


def test_plan_post_timeout_raises_the_check_timeout() -> None:
    fake = FakeStandby({})
    full, miner = fake.clients()
    _probe().check_provable(full, miner, "f01000", timeout=3600)
    assert {t["read"] for _, t in fake.checks} == {3600}


def test_sectors_not_in_the_restored_state_are_listed_not_failed() -> None:
    fake = FakeStandby({n: NOT_IN_STATE for n in (12, 13, 14, 15, 16, 17)})
    full, miner = fake.clients()
    found = _probe().check_provable(full, miner, "f01000")
    detail, facts = found.detail, found.facts()
    assert detail.startswith("14 of 20 live sectors in 1 deadlines (2 partitions) provable; 6 not in the "
                             "restored miner's state (sealed after the backup?): 12, 13, 14, 15, 16, …")
    assert "Restore the missing" not in detail
    assert (facts["bad_sectors"], facts["not_in_restored_state"]) == (0, 6)
    assert facts["not_in_restored_state_sample"] == "12, 13, 14, 15, 16"
    assert json.loads(facts["bad_json"])["12"] == NOT_IN_STATE  # handed on to reconcile as before


def test_missing_files_fail_and_name_only_those() -> None:
    fake = FakeStandby({3: "sealed file missing", 12: NOT_IN_STATE})
    full, miner = fake.clients()
    with pytest.raises(PoStError) as exc:
        _probe().check_provable(full, miner, "f01000")
    msg = str(exc.value)
    assert exc.value.finding is not None  # what CheckProvable said is kept for reconcile and the record
    facts = exc.value.finding.facts()
    assert msg.startswith("1 of 20 live sectors are not provable on the standby: sector 3: sealed file missing.")
    assert "Restore the missing or damaged sealed/cache files" in msg
    assert "1 not in the restored miner's state (sealed after the backup?): 12" in msg
    assert (facts["bad_sectors"], facts["not_in_restored_state"]) == (1, 1)


def _layout() -> list[list[Partition]]:
    bf = Bitfield.from_iterable
    parts: list[list[Partition]] = [[] for _ in range(48)]
    for dl, lives in PARTITIONS.items():
        parts[dl] = [Partition(bf(live), bf(()), bf(()), bf(live), bf(live)) for live in lives]
    return parts


def _report(bad: dict[int, str]) -> ReconciliationReport:
    return build_report("f01000", DeadlineClock(114320, 114090, 3), 30, _layout(), known=intervals_of(range(0, 12)),
                        bad=bad, backup=intervals_of(range(0, 12)), day_rewards={})


def test_reconcile_does_not_count_them_missing() -> None:
    report = _report({n: NOT_IN_STATE for n in range(12, 20)})
    (row,) = report.rows
    assert (row.on_chain, row.provable, row.missing, row.not_in_state, row.after_backup) == (20, 12, 0, 8, 8)
    assert report.ok and provable_problem(report) is None
    assert report.not_in_state_sample == tuple(range(12, 20))
    assert ("8 live sectors are not in the restored miner's state (sealed after the backup?): 12, 13, 14, 15, 16, "
            "…; CheckProvable cannot check them, the WindowPoSt dry-run (on-chain sealed CIDs) gives their "
            "verdict") in report.summary()
    facts = report.to_facts()
    assert facts["not_in_restored_state"] == 8 and ReconciliationReport.from_facts(facts) == report
    assert report.stage_data()["not_in_restored_state"] == 8


def test_reconcile_problem_names_bad_files_and_mentions_the_rest() -> None:
    report = _report({3: "sealed file missing", 15: NOT_IN_STATE})
    problem = provable_problem(report)
    assert problem is not None and not report.ok
    assert problem.startswith("1 of 20 on-chain live sectors are not provable on the standby: CheckProvable found "
                              "their sealed or cache files missing or damaged (deadline 2: 1); sector 3: sealed "
                              "file missing. A WindowPoSt would skip them")
    assert "Also 1 live sectors are not in the restored miner's state (sealed after the backup?): 15" in problem


def test_reconcile_own_check_provable_is_per_partition() -> None:
    fake = FakeStandby({})
    full, miner = fake.clients()
    scan = SectorScan(48)
    from array import array

    scan.by_proof[(2, 8)] = array("Q", range(0, 20))
    assert _check_provable(full, miner, "f01000", scan, _layout()) == {}
    assert [numbers for numbers, _ in fake.checks] == [list(range(0, 10)), list(range(10, 20))]
    assert all(t["read"] > PARTITION_CHECK_TIMEOUT_S for _, t in fake.checks)
