"""Reconciliation: interval algebra, the per-deadline table and its facts, the lean sector scan, backups."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import cbor2
import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spdrill.clock import FakeClock
from spdrill.drill import Drill
from spdrill.errors import InputError, LotusError, LotusRPCError
from spdrill.evidence.record import schema
from spdrill.exposure import DeadlineClock
from spdrill.findings import ReconcileFinding
from spdrill.journal import Check, Phase
from spdrill.lotus import ApiInfo, Bitfield, FullNodeClient, MinerClient
from spdrill.lotus.types import Partition
from spdrill.plan import parse_plan
from spdrill.reconcile import (
    ReconciliationReport,
    build_report,
    count,
    intersect,
    intervals,
    intervals_of,
    provable_problem,
    subtract,
    union,
)
from spdrill.reconcile_probe import backup_sectors, reconcile, scan_sectors
from spdrill.targets.local import LocalTarget

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CLOCK = DeadlineClock(114320, 114090, 3)
DEADLINE_FIELDS = ("CurrentEpoch", "PeriodStart", "Index", "Open", "Close", "Challenge", "FaultCutoff",
                   "WPoStPeriodDeadlines", "WPoStProvingPeriod", "WPoStChallengeWindow",
                   "WPoStChallengeLookback", "FaultDeclarationCutoff")
REAL_DEADLINE = (114320, 114090, 3, 114270, 114330, 114250, 114200, 48, 2880, 60, 20, 70)
sets = st.sets(st.integers(0, 300), max_size=80)


def _members(iv: list[tuple[int, int]]) -> set[int]:
    return {n for s, e in iv for n in range(s, e)}


@given(a=sets, b=sets)
def test_interval_algebra_matches_sets(a: set[int], b: set[int]) -> None:
    ia, ib = intervals_of(a), intervals_of(b)
    assert _members(ia) == a and count(ia) == len(a)
    assert ia == intervals(Bitfield.from_iterable(a))
    assert _members(intersect(ia, ib)) == a & b
    assert _members(subtract(ia, ib)) == a - b
    assert _members(union([ia, ib])) == a | b
    for iv in (intersect(ia, ib), subtract(ia, ib), union([ia, ib])):
        assert all(s < e for s, e in iv) and all(x[1] < y[0] for x, y in zip(iv, iv[1:], strict=False))


def _partition(live: set[int], faulty: frozenset[int] = frozenset(),
               recovering: frozenset[int] = frozenset()) -> Partition:
    bf = Bitfield.from_iterable
    return Partition(bf(live), bf(faulty), bf(recovering), bf(live), bf(live - faulty))


def _layout() -> list[list[Partition]]:
    parts: list[list[Partition]] = [[] for _ in range(48)]
    parts[0] = [_partition(set(range(0, 10))),
                _partition(set(range(10, 14)), faulty=frozenset({12, 13}), recovering=frozenset({13}))]
    parts[5] = [_partition(set(range(20, 30)))]
    return parts


def _report(**kw: object) -> ReconciliationReport:
    args: dict[str, object] = {
        "known": intervals_of([*range(0, 14), *range(20, 27), 99]),
        "bad": {3: "sealed file missing", 21: "cut"},
        "backup": intervals_of(range(0, 25)), "day_rewards": {0: 12 * 10**15, 5: 10 * 10**15},
        "post_submissions": [Bitfield.from_iterable([0, 1])] + [Bitfield()] * 47}
    args.update(kw)
    return build_report("f01000", CLOCK, 30, _layout(), **args)  # type: ignore[arg-type]


def test_table_counts_each_deadline() -> None:
    report = _report()
    d0, d5 = report.rows
    assert (d0.deadline, d0.partitions, d0.on_chain) == (0, 2, 14)
    assert (d0.active, d0.faulty, d0.recovering) == (12, 2, 1)
    assert (d0.known, d0.provable, d0.missing, d0.after_backup, d0.proven) == (14, 13, 1, 0, True)
    assert (d5.deadline, d5.on_chain, d5.known) == (5, 10, 7)
    assert (d5.provable, d5.missing, d5.after_backup) == (9, 1, 5)
    assert d5.proven is False
    assert (report.on_chain, report.missing, report.after_backup, report.not_on_chain) == (24, 2, 5, 1)
    assert report.missing_sample == ((3, "sealed file missing"), (21, "cut"))
    assert [load.sectors for load in report.loads()] == [12, 10]


def test_without_a_backup_the_restored_miner_stands_for_it() -> None:
    report = _report(backup=None)
    assert [r.after_backup for r in report.rows] == [0, 3]
    assert not report.backup_compared


def test_every_provable_is_ok_and_a_bad_sector_is_not() -> None:
    assert _report(bad={}).ok and provable_problem(_report(bad={})) is None
    problem = provable_problem(_report())
    assert problem is not None and "2 of 24" in problem and "sector 3: sealed file missing" in problem
    assert "deadline 0: 1, deadline 5: 1" in problem
    # A bad verdict on a sector that is not live on chain changes nothing.
    assert _report(bad={99: "gone"}).ok


def test_facts_round_trip_and_match_the_record_schema() -> None:
    report = _report()
    facts = report.to_facts()
    assert json.loads(json.dumps(facts)) == facts
    jsonschema.validate(facts, schema()["$defs"]["reconciliation"])
    assert ReconciliationReport.from_facts(facts) == report
    data = report.stage_data()
    assert all(v is None or isinstance(v, str | int | float | bool) for v in data.values())
    assert ReconciliationReport.from_facts(data) == report
    assert facts["deadlines"][0]["day_reward_atto"] == str(12 * 10**15)


def test_bad_facts_name_the_field() -> None:
    facts = _report().to_facts()
    del facts["period_start"]
    with pytest.raises(InputError, match="period_start"):
        ReconciliationReport.from_facts(facts)


def _sector(n: int, reward: str | None = "1000", proof: int = 8) -> dict[str, object]:
    return {"SectorNumber": n, "SealProof": proof, "SealedCID": {"/": "bagboea4b5abc"}, "Activation": 1,
            "Expiration": 2, "DealWeight": "0", "InitialPledge": "5",
            "ExpectedDayReward": reward, "ExpectedStoragePledge": "0", "SectorKeyCID": None}


def _body(sectors: list[dict[str, object]]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "result": sectors, "id": 1}).encode()


def _index(layout: dict[int, int], faulty: tuple[int, ...] = ()) -> bytearray:
    index = bytearray(b"\xff") * 64
    for n, dl in layout.items():
        index[n] = dl
    for n in faulty:
        index[n] = 0xFE
    return index


@pytest.mark.parametrize("size", [1, 7, 64, 1 << 20])
def test_scan_sums_rewards_per_deadline_whatever_the_chunking(size: int) -> None:
    body = _body([_sector(n, str(1000 + n)) for n in range(20)] + [_sector(40, None)])
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    index = _index({**{n: n % 3 for n in range(20)}, 40: 1}, faulty=(5,))
    scan = scan_sectors(chunks, index, keep_proofs=True)
    want = [sum(1000 + n for n in range(20) if n % 3 == dl and n != 5) for dl in range(3)]
    assert scan.day_rewards[:3] == want and scan.sectors == 21 and scan.without_reward == 1
    assert sorted(scan.by_proof) == [(0, 8), (1, 8), (2, 8)]
    assert list(scan.by_proof[(1, 8)]) == [1, 4, 7, 10, 13, 16, 19, 40]


def test_scan_reads_the_documented_example(tmp_path: Path) -> None:
    doc = SHARED / "lotus-api" / "api-methods-v1-stable.md"
    if not doc.is_file():
        pytest.skip(f"{doc} is absent: the Lotus documents live in ../shared")
    section = doc.read_text().split("### StateMinerSectors", 1)[1]
    example = json.loads(re.findall(r"```json\n(.*?)```", section, re.DOTALL)[1])
    example[0]["ExpectedDayReward"] = "123456789012345678901"  # the documented "0" would prove nothing
    scan = scan_sectors([_body(example)], _index({9: 4}))
    assert scan.day_rewards[4] == 123456789012345678901 and scan.sectors == 1


def test_scan_refuses_objects_it_cannot_pair() -> None:
    without = _sector(2)
    del without["ExpectedDayReward"]
    with pytest.raises(LotusError, match="ExpectedDayReward: expected one .* found 1 for 2 sectors"):
        scan_sectors([_body([_sector(1), without, _sector(3)])], _index({1: 0, 2: 0, 3: 0}))
    reversed_body = _body([dict(reversed(list(_sector(n).items()))) for n in (1, 2)])
    with pytest.raises(LotusError, match="SectorNumber before ExpectedDayReward"):
        scan_sectors([reversed_body], _index({1: 0, 2: 0}))
    whole = _body([_sector(1), _sector(2)])
    for cut in (2, 60, 150):  # the answer ends inside ]}, after the reward, inside the last object
        with pytest.raises(LotusError, match="complete JSON-RPC answer|found 0 for 1 sectors"):
            scan_sectors([whole[:-cut]], _index({1: 0, 2: 0}))


# The stand-in answers a method's error with HTTP 500; go-jsonrpc with HTTP 200 and its keys sorted
# (go-jsonrpc handler.go:422-476 writes no status for a method's error; response.go:16-35).
@pytest.mark.parametrize("status", [500, 200])
def test_an_rpc_error_from_state_miner_sectors_is_mapped(status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        method = body["method"].removeprefix("Filecoin.")
        results = {
            "Version": {"Version": "1", "APIVersion": 131840, "BlockDelay": 30, "Agent": "x"},
            "StateMinerProvingDeadline": dict(zip(DEADLINE_FIELDS, REAL_DEADLINE, strict=True)),
            "StateMinerDeadlines": [{"PostSubmissions": [0], "DisputableProofCount": 0}] * 48,
            "StateMinerPartitions": [{k: [0, 4] for k in ("AllSectors", "FaultySectors", "RecoveringSectors",
                                                          "LiveSectors", "ActiveSectors")}],
        }
        if method == "StateMinerSectors":
            err = {"code": 1, "message": "blockstore: block not found"}
            return httpx.Response(status, json={"error": err, "id": body["id"], "jsonrpc": "2.0"})
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": results[method]})

    info = ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http")
    full = FullNodeClient(info, transport=httpx.MockTransport(handler))
    miner = MinerClient(info, transport=httpx.MockTransport(handler))
    with pytest.raises(LotusRPCError, match="block not found"):
        reconcile(full, miner, "f01000", provable_bad={})


def test_reconcile_streams_state_miner_sectors_as_go_jsonrpc_writes_it() -> None:
    """The answer read through RpcClient.stream, in go-jsonrpc's sorted-key envelope, ends in the report."""
    sectors = [_sector(n, str(10 + n)) for n in range(4)]

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        method = body["method"].removeprefix("Filecoin.")
        results: dict[str, Any] = {
            "Version": {"Version": "1", "APIVersion": 131840, "BlockDelay": 30, "Agent": "x"},
            "StateMinerProvingDeadline": dict(zip(DEADLINE_FIELDS, REAL_DEADLINE, strict=True)),
            "StateMinerDeadlines": [{"PostSubmissions": [0], "DisputableProofCount": 0}] * 48,
            "StateMinerSectors": sectors,
            "SectorsList": [0, 1, 2, 3],
        }
        if method == "StateMinerPartitions":  # sectors 0-3 in deadline 2, the others empty
            part = {k: [0, 4] for k in ("AllSectors", "LiveSectors", "ActiveSectors")}
            part |= {"FaultySectors": [0], "RecoveringSectors": [0]}
            results[method] = [part] if body["params"][1] == 2 else []
        answer = {"id": body["id"], "jsonrpc": "2.0", "result": results[method]}
        return httpx.Response(200, content=json.dumps(answer, separators=(",", ":")).encode() + b"\n")

    info = ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http")
    with FullNodeClient(info, transport=httpx.MockTransport(handler)) as full, \
            MinerClient(info, transport=httpx.MockTransport(handler)) as miner:
        report = reconcile(full, miner, "f01000", provable_bad={})
    assert [(r.deadline, r.day_reward_atto) for r in report.rows] == [(2, 10 + 11 + 12 + 13)]
    assert full.closed and miner.closed


def _backup(path: Path, keys: list[bytes]) -> Path:
    entries = b"".join(cbor2.dumps([k, b"\xa0"]) for k in keys)
    digest = hashlib.sha256(b"\x9f" + entries).digest()
    path.write_bytes(b"\x82\x9f" + entries + b"\xff" + b"\x58\x20" + digest)
    return path


def test_backup_sectors_reads_the_sector_keys(tmp_path: Path) -> None:
    keys = [b"/miner-address", b"/sectors/0", b"/sectors/1", b"/sectors/7", b"/sectors/x", b"/metadata/deals"]
    assert backup_sectors(_backup(tmp_path / "b.cbor", keys)).to_list() == [0, 1, 7]
    (tmp_path / "bad.cbor").write_bytes(b"\x83\x00")
    with pytest.raises(InputError, match="bad.cbor"):
        backup_sectors(tmp_path / "bad.cbor")
    with pytest.raises(InputError, match="cannot open"):
        backup_sectors(tmp_path / "absent.cbor")
    truncated = tmp_path / "cut.cbor"
    truncated.write_bytes(_backup(tmp_path / "c.cbor", keys).read_bytes()[:20])
    with pytest.raises(InputError, match="truncated"):
        backup_sectors(truncated)


# -- the drills in drills/test_reconcile.py, called on a real Drill whose board holds a reconcile result ----
def _drill_module() -> Any:
    path = Path(__file__).resolve().parents[1] / "src" / "spdrill" / "drills" / "test_reconcile.py"
    spec = importlib.util.spec_from_file_location("spdrill_drill_reconcile", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _drill(tmp_path: Path, report: ReconciliationReport | None, must_not_miss: object = None,
           green_at: float = 300.0) -> Drill:
    plan = parse_plan('[drill]\nactor = "f01000"\n')
    objectives = plan.objectives
    object.__setattr__(objectives, "must_not_miss", must_not_miss)  # the field proposed for plan.py
    drill = Drill(plan, target=LocalTarget({"workdir": str(tmp_path)}), clock=FakeClock(), drill_id="t")
    if report is not None:
        drill.board.publish(Phase.result("reconcile", True, report.summary(), 5.0, ReconcileFinding(report=report)))
    else:
        drill.board.publish(Phase.result("reconcile", False, "StateMinerPartitions failed", 5.0))
    drill.journal.add_check(Check("test_daemon_synced", "synced", "readiness", True, "", green_at))
    return drill


def test_drill_every_live_sector_provable(tmp_path: Path) -> None:
    drills = _drill_module()
    drills.test_every_live_sector_provable(_drill(tmp_path, _report(bad={})))
    with pytest.raises(AssertionError, match="sector 3: sealed file missing"):
        drills.test_every_live_sector_provable(_drill(tmp_path, _report()))
    with pytest.raises(AssertionError, match="StateMinerPartitions failed"):
        drills.test_every_live_sector_provable(_drill(tmp_path, None))


def test_drill_rto_misses_no_must_not_miss_deadline(tmp_path: Path) -> None:
    drills = _drill_module()
    report = _report(bad={})  # deadline 3 is open at epoch 114320 (closes 114330); rows hold deadlines 0, 5
    # A 3-hour RTO from epoch 114320 reaches epoch 114680: deadline 5 closes at 114450, deadline 0 a day on.
    calm = _drill(tmp_path, report, must_not_miss=[0], green_at=3 * 3600)
    drills.test_rto_misses_no_must_not_miss_deadline(calm)
    frozen = calm.journal.freeze()
    facts = frozen.facts
    exposure = dict(frozen.sections["exposure"])
    assert exposure["missed_deadlines"] == [5] and exposure["faulty_sectors"] == 10
    assert facts["fil_at_risk_at_rto"] == exposure["fil_at_risk"] == 0.0351
    assert exposure["worst_faulty_sectors"] == 22  # deadlines 0 and 5 lie 300 epochs apart
    assert exposure["worst_missed_deadlines"] == [0, 5]
    jsonschema.validate(exposure, schema()["$defs"]["exposure"])
    with pytest.raises(AssertionError, match="misses must-not-miss deadline 5 "):
        drills.test_rto_misses_no_must_not_miss_deadline(_drill(tmp_path, report, [5], green_at=3 * 3600))
    with pytest.raises(AssertionError, match="misses must-not-miss deadline 5 "):
        drills.test_rto_misses_no_must_not_miss_deadline(_drill(tmp_path, report, "all", green_at=3 * 3600))
    drills.test_rto_misses_no_must_not_miss_deadline(_drill(tmp_path, report, "all", green_at=60))


layouts = st.lists(st.lists(sets, max_size=3), min_size=48, max_size=48)


@settings(max_examples=30, deadline=None)
@given(layout=layouts, known=sets, bad=sets, backup=sets)
def test_table_invariants(layout: list[list[set[int]]], known: set[int], bad: set[int],
                          backup: set[int]) -> None:
    seen: set[int] = set()
    parts: list[list[Partition]] = []
    for deadline in layout:
        parts.append([])
        for members in deadline:  # a sector lives in one partition only
            parts[-1].append(_partition(members - seen))
            seen |= members
    report = build_report("f01000", CLOCK, 30, parts, known=intervals_of(known),
                          bad={n: "bad" for n in bad}, backup=intervals_of(backup), day_rewards={})
    assert report.on_chain == len(seen)
    assert report.provable + report.missing == report.on_chain
    assert report.missing == len(seen & bad) and report.known == len(seen & known)
    assert report.after_backup == len(seen - backup) and report.not_on_chain == len(known - seen)
    assert report.ok == (not seen & bad)
