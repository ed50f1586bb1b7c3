"""Snapshot sets: the newest restore points within a window of each other, and what breaks a set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spdrill.snapshots import RestorePoint, SnapshotSetChoice, choose

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def rps(source: str, *offsets_min: int) -> tuple[str, list[RestorePoint]]:
    return source, [RestorePoint("zfs", f"{source}@{o}", None, T0 + o * MIN, True) for o in offsets_min]


def names(choice: SnapshotSetChoice) -> list[str]:
    return [rp.name for rp in choice.restore_points]


def test_newest_of_each_when_they_agree() -> None:
    choice = choose([rps("tank/lotus", 0, 60, 121), rps("tank/miner", 1, 61, 120)], window=5 * MIN)
    assert choice.consistent and names(choice) == ["tank/lotus@121", "tank/miner@120"]
    assert choice.spread == MIN and choice.problems() == []
    assert [m.passed_over for m in choice.members] == [0, 0]


def test_falls_back_to_an_older_consistent_set_and_says_what_it_passed_over() -> None:
    # The miner repo's 02:00 snapshot failed: the newest consistent set is an hour older.
    choice = choose([rps("tank/lotus", 0, 60), rps("tank/miner", 1), rps("tank/store", 2, 61)], window=5 * MIN)
    assert choice.consistent and names(choice) == ["tank/lotus@0", "tank/miner@1", "tank/store@2"]
    assert [m.passed_over for m in choice.members] == [1, 0, 1]


def test_inconsistent_set_names_who_is_how_far_off() -> None:
    choice = choose([rps("tank/miner", 0), rps("tank/store", 24 * 60)], window=15 * MIN)
    assert not choice.consistent
    assert names(choice) == ["tank/miner@0", "tank/store@1440"]
    assert [m.behind_newest for m in choice.members] == [timedelta(days=1), timedelta(0)]
    assert choice.problems() == ["tank/miner@0 is 1 d older than tank/store@1440 (window 15 min)"]


def test_a_source_without_restore_points_breaks_the_set() -> None:
    choice = choose([rps("tank/lotus", 0), ("tank/miner", [])], window=5 * MIN)
    assert not choice.consistent and choice.problems() == ["tank/miner has no restore point"]
    assert choice.members[1].restore_point is None and choice.members[1].behind_newest is None


def test_at_ignores_restore_points_taken_after_it() -> None:
    choice = choose([rps("a", 0, 60), rps("b", 1, 61)], window=5 * MIN, at=T0 + 30 * MIN)
    assert names(choice) == ["a@0", "b@1"]


def test_window_edges_are_inclusive() -> None:
    assert choose([rps("a", 0), rps("b", 5)], window=5 * MIN).consistent
    assert not choose([rps("a", 0), rps("b", 6)], window=5 * MIN).consistent


def test_single_source_and_no_sources() -> None:
    assert choose([rps("a", 0, 9)], window=MIN).consistent
    assert not choose([], window=MIN).consistent
