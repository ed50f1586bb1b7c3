"""FakeTarget: records calls, answers scripted runs, reports declared exits; no process, no port."""

from __future__ import annotations

import threading

import pytest

from spdrill.errors import TargetError
from spdrill.lotus import ApiInfo
from spdrill.targets import Target, target_classes
from spdrill.targets.fake import FIRST_PORT, FakeTarget
from spdrill.workfs import LocalFS


def test_is_a_target_with_the_base_defaults() -> None:
    fake = FakeTarget()
    assert isinstance(fake, Target) and fake.kind == "fake" and fake.brings_up
    assert isinstance(fake.workfs(), LocalFS) and fake.source_runner() is None
    assert fake.endpoint("daemon", 1234) == fake.peer("daemon", 1234) == ("127.0.0.1", 1234)
    assert FakeTarget(brings_up=False).brings_up is False


def test_no_plan_can_name_it() -> None:
    assert FakeTarget not in list(target_classes())


def test_open_makes_a_folder_that_close_removes() -> None:
    fake = FakeTarget()
    root = fake.open("d1")
    assert root.is_dir() and (root / "logs").is_dir() and "d1" in root.name
    fake.close()
    assert not root.exists() and fake.closed and fake.stopped
    fake.close()  # idempotent


def test_run_records_and_answers_by_longest_then_latest_prefix() -> None:
    fake = FakeTarget()
    fake.script(["lotus"], returncode=1, stderr="no")
    fake.script(["lotus", "sync", "wait"], stdout="done")
    fake.script(["lotus", "sync", "wait"], stdout="done again")
    assert fake.run(["lotus", "sync", "wait", "--watch"], env={"A": "1"}, timeout=5).stdout == "done again"
    other = fake.run(["lotus", "net", "id"], env={}, timeout=5)
    assert (other.returncode, other.stderr, other.argv) == (1, "no", ("lotus", "net", "id"))
    plain = fake.run(["true"], env={}, timeout=5)
    assert (plain.returncode, plain.stdout, plain.stderr) == (0, "", "")
    assert [(c.argv[0], c.env, c.timeout) for c in fake.runs()] == [
        ("lotus", {"A": "1"}, 5), ("lotus", {}, 5), ("true", {}, 5)]


def test_a_scripted_error_is_raised() -> None:
    fake = FakeTarget()
    fake.script(["lotus-miner", "init"], error=TargetError("lotus-miner init: no answer within 60s"))
    with pytest.raises(TargetError, match="no answer"):
        fake.run(["lotus-miner", "init", "restore"], env={}, timeout=60)
    assert len(fake.runs()) == 1


def test_spawn_and_exits() -> None:
    fake = FakeTarget()
    fake.spawn("daemon", ["lotus", "daemon", "--api", "1234"], env={"LOTUS_PATH": "/r"}, port=1234)
    fake.spawn("worker", ["lotus-worker", "run"], env={}, port=3456)
    assert fake.roles() == ["daemon", "worker"]
    call = fake.spawned("daemon")
    assert (call.argv, call.env, call.port) == (("lotus", "daemon", "--api", "1234"), {"LOTUS_PATH": "/r"}, 1234)
    assert fake.exit_code("worker") is None
    fake.exit("worker", 1)
    assert fake.exit_code("worker") == 1 and fake.exit_code("daemon") is None
    fake.exit("worker", None)
    assert fake.exit_code("worker") is None
    with pytest.raises(KeyError, match="miner was never spawned; spawned: daemon, worker"):
        fake.spawned("miner")


def test_an_exit_declared_before_the_spawn_holds() -> None:
    fake = FakeTarget()
    fake.exit("miner", 2)
    fake.spawn("miner", ["lotus-miner", "run"], env={}, port=2345)
    assert fake.exit_code("miner") == 2


def test_ports_come_from_a_counter_even_across_threads() -> None:
    fake = FakeTarget()
    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.extend(fake.free_port() for _ in range(100))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(FIRST_PORT, FIRST_PORT + 400))


def test_logs_are_what_the_test_put_there() -> None:
    fake = FakeTarget()
    assert fake.logs() == {}
    fake.log("daemon", "started\n")
    fake.log("daemon", "synced\n")
    logs = fake.logs()
    logs["daemon"] = "changed"  # a copy: the fake keeps its own
    assert fake.logs() == {"daemon": "started\nsynced\n"}


def test_api_info_is_what_the_test_points_it_at() -> None:
    fake = FakeTarget(brings_up=False)
    with pytest.raises(TargetError, match="the fake target does not point at a running API"):
        fake.api_info("daemon")
    info = ApiInfo.parse("tok:/ip4/127.0.0.1/tcp/1234/http")
    fake.point_at("daemon", info)
    assert fake.api_info("daemon") is info
