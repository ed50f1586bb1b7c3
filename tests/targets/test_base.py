"""The Target base class, the registry and `make_target`, the one CommandResult, and `spdrill cleanup`'s dispatch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import pytest

import spdrill.snapshots
import spdrill.targets
from spdrill import reaper
from spdrill.errors import CannotRunError, PlanError, TargetError
from spdrill.plan import Requirements, StandbySpec, parse_plan
from spdrill.snapshots.runner import CommandResult, LocalRunner
from spdrill.targets import (
    ReapScope,
    Target,
    make_target,
    target_class,
    target_classes,
)
from spdrill.targets.attach import AttachTarget
from spdrill.targets.docker import DockerTarget
from spdrill.targets.fake import FakeTarget
from spdrill.targets.local import LocalTarget
from spdrill.targets.ssh import SshTarget
from spdrill.workfs import LocalFS

MINIMAL = '[drill]\nactor = "f01000"\n'


def test_exports() -> None:
    assert sorted(spdrill.targets.__all__) == [
        "CommandResult", "Host", "HostResult", "ReapScope", "Target", "make_target", "target_class",
        "target_classes", "validate_target_options"]


def test_every_registered_kind_is_a_complete_target_subclass() -> None:
    classes = list(target_classes())
    assert [c.kind for c in classes] == ["local", "attach", "docker", "ssh"]
    assert classes == [LocalTarget, AttachTarget, DockerTarget, SshTarget]
    for cls in classes:
        assert issubclass(cls, Target) and not cls.__abstractmethods__, cls


def test_an_unknown_kind_names_the_ones_there_are() -> None:
    with pytest.raises(PlanError, match="use one of: attach, docker, local, ssh") as err:
        target_class("cloud")
    assert err.value.field == "target.kind"


@pytest.mark.parametrize(("kind", "table", "cls"), [
    ("local", '[target.local]\nworkdir = "/var/tmp/x"\n', LocalTarget),
    ("attach", "", AttachTarget),
    ("docker", '[target.docker]\nimage = "spdrill-sim:1"\n', DockerTarget),
    ("ssh", '[target.ssh]\nhost = "gpu1"\n', SshTarget),
])
def test_make_target_takes_the_plan(kind: str, table: str, cls: type[Target]) -> None:
    standby = '[standby]\nbindir = "/opt/lotus/bin"\n[standby.requirements]\ngpu = false\n'
    plan = parse_plan(MINIMAL + f'[target]\nkind = "{kind}"\n' + table + standby)
    target = make_target(plan)
    assert type(target) is cls and target.kind == kind
    assert target.options == plan.target.options and target.standby is plan.standby


def test_each_target_reads_what_it_needs_of_the_standby_section() -> None:
    standby = StandbySpec(bindir="/opt/lotus/bin", requirements=Requirements(gpu=False))
    assert LocalTarget({}, standby).bindir == "/opt/lotus/bin"
    assert SshTarget({"host": "gpu1"}, standby).bindir == "/opt/lotus/bin"
    assert SshTarget({"host": "gpu1", "bindir": "/usr/local/lotus"}, standby).bindir == "/usr/local/lotus"
    assert DockerTarget({}, standby).gpu_wanted is False
    assert DockerTarget({}).gpu_wanted is True  # Requirements' default: the standby has a GPU


def test_options_are_checked_by_the_constructor() -> None:
    with pytest.raises(PlanError, match="unknown key; expected one of: workdir") as err:
        LocalTarget({"colour": "red"})
    assert err.value.field == "target.local.colour"
    with pytest.raises(PlanError, match="fullnode_api_info_env, miner_api_info_env"):
        AttachTarget({"token": "x"})


def test_a_candidate_image_replaces_the_images_of_a_docker_plan_only() -> None:
    options = {"image": "lotus:1", "images": {"worker": "lotus-cuda:1"}, "memory": "8GiB"}
    assert DockerTarget.options_with_image(options, "lotus:2") == {"image": "lotus:2", "memory": "8GiB"}
    assert options["images"] == {"worker": "lotus-cuda:1"}  # the plan's own table is left alone
    for cls in (LocalTarget, SshTarget, AttachTarget):
        with pytest.raises(PlanError, match=f"needs the docker target; this plan's target is {cls.kind}") as err:
            cls.options_with_image({}, "lotus:2")
        assert err.value.field == "target.kind"


class _Minimal(Target):
    """Only what every target must do: the rest comes from the base class."""

    kind = "minimal"

    def open(self, drill_id: str) -> Path:
        return Path("/nonexistent")

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], timeout: float) -> CommandResult:
        return CommandResult(tuple(argv), 0, "", "")

    def spawn(self, role: str, argv: Sequence[str], *, env: Mapping[str, str], port: int) -> None:
        return None

    def exit_code(self, role: str) -> int | None:
        return None

    def free_port(self) -> int:
        return 1

    def logs(self) -> Mapping[str, str]:
        return {}

    def close(self) -> None:
        return None


def test_capability_defaults_are_those_of_a_standby_on_this_host() -> None:
    t = _Minimal({})
    assert t.brings_up and isinstance(t.standby, StandbySpec)
    assert t.path(Path("/drill/x")) == "/drill/x"
    assert t.listen_host("daemon") == t.harness_bind_host() == "127.0.0.1"
    assert t.peer("miner", 2345) == t.endpoint("miner", 2345) == ("127.0.0.1", 2345)
    assert t.expose_harness(9000) == ("127.0.0.1", 9000)
    assert isinstance(t.workfs(), LocalFS) and t.source_runner() is None
    t.publish_workspace()  # nothing to hand over, nothing to stop: neither raises
    t.stop_processes()
    assert not t.reaps(ReapScope()) and t.reap(ReapScope()) == []
    with pytest.raises(TargetError, match="the minimal target does not point at a running API"):
        t.api_info("daemon")
    with pytest.raises(PlanError, match="expected one of: none"):
        _Minimal({"x": 1})


def test_a_target_missing_a_required_method_cannot_be_built() -> None:
    class Half(Target):
        kind = "half"

    with pytest.raises(TypeError, match="abstract"):
        Half({})  # type: ignore[abstract]


def test_one_command_result_for_targets_and_sources() -> None:
    assert spdrill.targets.CommandResult is CommandResult is spdrill.snapshots.CommandResult
    done = LocalRunner().run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=10)
    assert isinstance(done, CommandResult)
    assert (done.argv[0], done.returncode, done.stdout, done.stderr) == ("sh", 3, "out\n", "err\n")
    with pytest.raises(AttributeError):
        done.returncode = 0  # type: ignore[misc]


# -- `spdrill cleanup`: this host first, then each kind that reaps, in registry order -------------------------------
class _Engine(FakeTarget):
    kind = "engine"
    found: ClassVar[list[str]] = []
    error: ClassVar[Exception | None] = None
    seen: ClassVar[list[ReapScope]] = []

    @classmethod
    def reaps(cls, scope: ReapScope) -> bool:
        return True

    @classmethod
    def reap(cls, scope: ReapScope) -> list[str]:
        cls.seen.append(scope)
        if cls.error is not None:
            raise cls.error
        return list(cls.found)


class _Host(_Engine):
    kind = "host"

    @classmethod
    def reaps(cls, scope: ReapScope) -> bool:
        return scope.plan is not None


@pytest.fixture
def kinds(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _Engine.found, _Engine.error, _Engine.seen = [], None, []
    monkeypatch.setattr(spdrill.targets, "target_classes", lambda: iter([AttachTarget, _Engine, _Host]))
    yield


def test_cleanup_with_nothing_anywhere(tmp_path: Path, kinds: None) -> None:
    assert reaper.cleanup(workdir=tmp_path) == ["nothing to clean up"]
    assert [s.workdir for s in _Engine.seen] == [tmp_path]  # the host kind wants a plan


def test_cleanup_lists_this_host_then_each_kind(tmp_path: Path, kinds: None) -> None:
    (tmp_path / "spdrill-d1").mkdir()
    _Engine.found = ["container spdrill-d1-daemon (drill d1)"]
    assert reaper.cleanup(drill_id="d1", workdir=tmp_path) == [
        f"drill folder {tmp_path / 'spdrill-d1'}", "container spdrill-d1-daemon (drill d1)"]
    assert _Engine.seen[0].drill_id == "d1" and _Engine.seen[0].plan is None


def test_cleanup_says_which_kind_it_could_not_look_at(tmp_path: Path, kinds: None) -> None:
    _Engine.error = CannotRunError("no Docker engine answers")
    assert reaper.cleanup(workdir=tmp_path) == ["nothing to clean up", "engine: skipped (no Docker engine answers)"]


def test_cleanup_with_a_plan_uses_its_folders_and_asks_its_host(tmp_path: Path, kinds: None) -> None:
    plan = tmp_path / "plan.toml"
    work = tmp_path / "work"
    plan.write_text(MINIMAL + f'[target.local]\nworkdir = "{work}"\n'
                    f'[[restore.source]]\nkind = "btrfs"\npath = "{tmp_path}"\n'
                    f'workspace_root = "{tmp_path / "ws"}"\n')
    assert reaper.cleanup(workdir=tmp_path / "ignored", plan_path=plan) == ["nothing to clean up"]
    engine, host = _Engine.seen
    assert engine.workdir == host.workdir == work and engine.extra_roots == (tmp_path / "ws",)
    assert host.plan is not None and host.plan.target.options == {"workdir": str(work)}


@pytest.mark.parametrize("with_plan", [False, True])
@pytest.mark.parametrize("drill_id", [None, "k1"])
def test_cleanup_prints_what_the_cli_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str], with_plan: bool,
                                            drill_id: str | None) -> None:
    import socket
    import subprocess

    from spdrill.cli import main

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")  # no engine: docker finds nothing
    work = tmp_path / "work"
    plan = tmp_path / "plan.toml"
    plan.write_text(MINIMAL + f'[target.local]\nworkdir = "{work}"\n')
    child = subprocess.Popen(["true"])
    child.wait()
    dead = f"{socket.gethostname()}:{child.pid}"  # a harness of this host that is gone

    def leave_drills() -> None:
        for did in ("k1", "k2"):
            (work / f"spdrill-{did}").mkdir(parents=True, exist_ok=True)
            (work / f"spdrill-{did}" / reaper.OWNER_FILE).write_text(f"{did}\n{dead}\n")

    leave_drills()
    args = ["--plan", str(plan)] if with_plan else ["--workdir", str(work)]
    assert main(["cleanup", *args, *(["--drill", drill_id] if drill_id else [])]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("drill folder"), printed
    leave_drills()
    assert reaper.cleanup(drill_id=drill_id, workdir=work, plan_path=plan if with_plan else None) == printed
