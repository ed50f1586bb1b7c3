"""The encoded StateMinerSectors cache: same bytes as encoding each call, never stale, and valid CommR CIDs."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from lotus_sim import policy
from lotus_sim.chain import ChainSync
from lotus_sim.clock import MAINNET
from lotus_sim.daemon import DaemonNode
from lotus_sim.fixture import assign_deadlines
from lotus_sim.policy import proof_types
from lotus_sim.rpc import FileSlices, JsonStream
from lotus_sim.sectorcache import SectorCache, filter_runs
from lotus_sim.statejson import sector_json, sector_texts
from lotus_sim.world import Account, Head, World
from spdrill.lotus.fullnode import parse_sectors
from tests.sim.simproc import Stand, make_stand

ACC = Account("f01001", "f3x", "bls")
MINER = "f01000"


def _world(sectors: int = 60, size: int = 32 << 30, holes: tuple[int, ...] = (5, 6, 40)) -> World:
    deadlines = assign_deadlines(sectors, 4, proof_types(size).partition_sectors)
    for dl in deadlines:  # sectors never committed or terminated: the numbers have holes
        for n in holes:
            if n in dl:
                dl.remove(n)
    return World(MINER, ACC, ACC, (), "12D3KooWx", size, Head(4_000_000, MAINNET.timestamp_of(4_000_000)),
                 deadlines, seed=3)  # fmt: skip


def _expected(w: World, numbers: list[int]) -> bytes:
    """The straightforward answer: a SectorInfo and a dict per live sector, then json.dumps."""
    infos = [w.sector_info(n) for n in numbers]
    return json.dumps([sector_json(i) for i in infos if i is not None], separators=(",", ":")).encode()


def _bytes(result: FileSlices | JsonStream) -> bytes:
    if isinstance(result, JsonStream):
        return "".join(result.fragments).encode()
    data = result.path.read_bytes()
    return b"".join(p if isinstance(p, bytes) else data[p[0] : p[0] + p[1]] for p in result.parts)


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][0] + runs[-1][1] == n:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((n, 1))
    return runs


@pytest.mark.parametrize("wanted", [
    list(range(60)),  # everything, holes included
    [1, 2],
    [0, 4, 5, 6, 7, 39, 40, 41, 59],  # runs that start, end and lie inside holes
    [5, 6, 40],  # only holes: an empty list
    [58, 59, 60, 61, 10**9],  # past the last sector
    [],
])
def test_cached_answer_equals_straightforward_encoding(tmp_path: Path, wanted: list[int]) -> None:
    w = _world()
    cache = SectorCache.build(w, tmp_path)
    assert _bytes(cache.answer(_runs(wanted))) == _expected(w, wanted)
    assert _bytes(cache.answer_all()) == _expected(w, list(w.all_sectors()))
    assert json.loads(_bytes(cache.answer(_runs(wanted)))) == json.loads(_expected(w, wanted))


def test_active_sectors_leave_out_faults_planted_after_the_build(tmp_path: Path) -> None:
    w = _world()
    cache = SectorCache.build(w, tmp_path)
    w.faulty.update({0, 7, 8, 40, 59, 999})  # 40 and 999 are not live: nothing to leave out
    active = [n for n in w.all_sectors() if n not in w.faulty]
    assert _bytes(cache.answer_without(w.faulty)) == _expected(w, active)


def test_fast_encoding_equals_the_dict_form_for_every_size() -> None:
    for size in (2048, 32 << 30, 64 << 30):
        w = _world(size=size)
        numbers = list(w.all_sectors())
        assert [json.loads(t) for t in sector_texts(w, numbers)] == [sector_json(w.sector_info(n))  # type: ignore[arg-type]
                                                                     for n in numbers]


def test_a_changed_world_is_not_answered_from_the_old_file(tmp_path: Path) -> None:
    w = _world()
    cache = SectorCache.build(w, tmp_path)
    assert cache.fresh(w)
    w.deadlines[0].remove(w.deadlines[0][0])  # a sector terminated
    assert not cache.fresh(w)
    w2 = _world()
    w2.head = Head(4_000_100, MAINNET.timestamp_of(4_000_100))  # Activation depends on the head
    assert not cache.fresh(w2)
    assert SectorCache.load(w2, tmp_path) is None


def test_a_cut_short_cache_is_built_again(tmp_path: Path) -> None:
    w = _world()
    cache = SectorCache.build(w, tmp_path)
    assert SectorCache.load(w, tmp_path) is not None
    with cache.data.open("r+b") as fh:
        fh.truncate(cache.data.stat().st_size - 10)
    assert SectorCache.load(w, tmp_path) is None
    rebuilt = SectorCache.open(w, tmp_path)
    assert _bytes(rebuilt.answer_all()) == _expected(w, list(w.all_sectors()))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([rebuilt.data.name, f"{rebuilt.key}.idx"])


def test_filter_runs_reads_rle_json_and_names_a_bad_run() -> None:
    assert list(filter_runs([0, 3, 5, 2])) == [(0, 3), (8, 2)]
    assert list(filter_runs([2, 0, 1, 1])) == [(3, 1)]
    with pytest.raises(ValueError, match="bitfield run -1"):
        list(filter_runs([0, -1]))


def _node(w: World, cache: Path) -> DaemonNode:
    sync = ChainSync(MAINNET, w.head.height, w.head.timestamp, (), 1.0, bootstrap=False)
    node = DaemonNode(sync, lambda: w, lambda: [], b"k" * 32, lambda _: None, 0, cache)
    assert node.cache_done.wait(60)
    return node


def test_daemon_answers_from_the_cache_and_falls_back_when_the_world_changed(tmp_path: Path) -> None:
    w = _world()
    node = _node(w, tmp_path / "cache")
    first = node.miner_sectors(MINER, [0, 3, 2, 30], [])
    assert isinstance(first, FileSlices)  # served from the file
    assert _bytes(first) == _expected(w, [0, 1, 2, *range(5, 35)])
    w.faulty.add(1)
    assert _bytes(node.active_sectors(MINER, [])) == _expected(w, [n for n in w.all_sectors() if n != 1])
    w.deadlines[0].remove(w.deadlines[0][0])  # terminated after the build
    gone = w.all_sectors()
    answer = node.miner_sectors(MINER, None, [])
    assert isinstance(answer, JsonStream)
    assert _bytes(answer) == _expected(w, list(gone))


def test_sealed_cid_is_a_commr_cid_that_spdrill_parses() -> None:
    prefix = b"\x01\x82\xe2\x03\x81\xe8\x02\x20"  # CIDv1, fil-commitment-sealed, poseidon-bls12_381-a2-fc1, 32
    seen = set()
    for n in range(3000):
        cid = policy.sealed_cid(3, 1000, n)
        raw = base64.b32decode(cid[1:].upper())
        assert cid[0] == "b" and raw[:8] == prefix and len(raw) == 40, cid
        assert raw[-1] & 0xC0 == 0, f"{cid}: digest is not a BLS12-381 field element"
        seen.add(cid)
    assert len(seen) == 3000
    info = json.loads(next(sector_texts(_world(), [0])))
    assert parse_sectors("Filecoin.StateMinerSectors", [info])[0].sealed_cid == info["SealedCID"]["/"]


@pytest.fixture
def stand(tmp_path: Path) -> Any:
    s = make_stand(tmp_path, sectors=30, deadlines=3)
    try:
        yield s
    finally:
        s.stop_all()


def test_import_encodes_the_sectors_and_the_daemon_serves_them(stand: Stand) -> None:
    assert stand.import_snapshot().returncode == 0
    files = sorted(p.suffix for p in (stand.lotus_repo / "datastore" / "sim-sectors").iterdir())
    assert files == [".idx", ".json"]
    stand.start_daemon()
    w = World.from_car(stand.snapshot)
    api = stand.daemon()
    everything = api.call("StateMinerSectors", stand.info["miner"], None, [])
    assert json.dumps(everything, separators=(",", ":")).encode() == _expected(w, list(w.all_sectors()))
    picked = api.call("StateMinerSectors", stand.info["miner"], [1, 2, 3, 1], [])
    assert [s["SectorNumber"] for s in picked] == [1, 2, 6]


def test_a_build_in_several_processes_writes_the_same_files(tmp_path: Path) -> None:
    w = _world(sectors=200)
    one = SectorCache.build(w, tmp_path / "one")
    three = SectorCache.build(w, tmp_path / "three", workers=3)
    assert three.data.read_bytes() == one.data.read_bytes() and three.offsets == one.offsets
    assert (tmp_path / "three" / f"{three.key}.idx").read_bytes() == (tmp_path / "one" / f"{one.key}.idx").read_bytes()
    assert sorted(p.name for p in (tmp_path / "three").iterdir()) == [f"{three.key}.idx", f"{three.key}.json"]


@pytest.mark.parametrize("parent", [False, True], ids=["children fail", "parent fails"])
def test_a_failed_slice_fails_the_build_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           parent: bool) -> None:
    from lotus_sim import sectorcache

    real = sectorcache.sector_texts  # type: ignore[attr-defined]  # patched where the cache calls it

    def broken(w: World, numbers: Any, known_live: bool = False) -> Any:
        if (numbers[0] == 0) == parent:  # the parent encodes the first slice, the children the others
            raise ValueError("planted")
        return real(w, numbers, known_live)

    forked: list[int] = []

    def fork() -> int:
        pid = real_fork()
        forked.append(pid)
        return pid

    real_fork = os.fork
    monkeypatch.setattr(sectorcache, "sector_texts", broken)
    monkeypatch.setattr(os, "fork", fork)
    expected = (ValueError, "planted") if parent else (OSError, r"worker\(s\) \[1, 2\] of 3 failed")
    with pytest.raises(expected[0], match=expected[1]):
        SectorCache.build(_world(sectors=200), tmp_path, workers=3)
    assert list(tmp_path.iterdir()) == []
    assert len(forked) == 2
    for pid in forked:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped by the build: no zombie left


def test_without_a_writable_cache_the_import_succeeds_and_answers_stay_right(stand: Stand) -> None:
    blocker = stand.lotus_repo / "datastore" / "sim-sectors"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")  # neither the import nor the daemon can write the cache
    result = stand.import_snapshot()
    assert result.returncode == 0 and "encoding the miner's sectors in" in result.stderr, result.stderr
    stand.start_daemon()
    w = World.from_car(stand.snapshot)
    everything = stand.daemon().call("StateMinerSectors", stand.info["miner"], None, [])
    assert json.dumps(everything, separators=(",", ":")).encode() == _expected(w, list(w.all_sectors()))
    assert blocker.read_text() == "not a folder"
