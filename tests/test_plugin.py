"""The pytest plugin, through pytester: ordering, check records, green times, exit codes."""

import pytest

pytest_plugins = ["pytester"]

CONFTEST = '''
import pytest
from spdrill.clock import FakeClock
from spdrill.drill import Drill
from spdrill.plan import parse_plan
from spdrill.journal import Phase
from spdrill.targets.local import LocalTarget
from spdrill.pytest_plugin import DRILL_KEY

RESULTS = []

@pytest.fixture(scope="session")
def drill(request, tmp_path_factory):
    plan = parse_plan('[drill]\\nactor = "f01000"\\n[objectives]\\nrto = "30s"\\n')
    d = Drill(plan, target=LocalTarget({"workdir": str(tmp_path_factory.mktemp("w"))}), clock=FakeClock(),
              drill_id="t")
    request.config.stash[DRILL_KEY] = d
    d.board.publish(Phase.result("sync", True, "synced", 12.0))
    d.board.publish(Phase.result("post-dry-run", True, "proved", 20.0))
    d.board.publish(Phase.result("fence", False, "worker key in wallet", 3.0))
    yield d
    RESULTS.append(d.journal.freeze())
'''


def test_checks_recorded_with_green_times_and_objectives_last(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a='''
import pytest
from spdrill.assertions import stage_ok
from spdrill.phases import rto

@pytest.mark.objective
def test_rto(drill):
    """RTO within objective."""
    checks = drill.checks()
    assert [c.name for c in checks] == ["test_synced", "test_post"]
    assert rto(checks) == 20.0

def test_synced(drill):
    """Daemon synced."""
    stage_ok(drill, "sync", advice="")

def test_post(drill):
    """PoSt dry-run."""
    stage_ok(drill, "post-dry-run", advice="")
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_failed_check_message_and_exit_code(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_b='''
from spdrill.assertions import stage_ok

def test_fence(drill):
    """Fence verified."""
    stage_ok(drill, "fence", advice="Remove the key.")

def test_after(drill):
    checks = drill.checks()
    assert checks[0].passed is False and checks[0].green_at is None
    assert checks[0].message == "fence: worker key in wallet. Remove the key."
    assert checks[0].title == "Fence verified."
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*fence: worker key in wallet. Remove the key.*"])
    assert result.ret == 1


def test_cannot_run_gives_exit_3(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST + '''
from spdrill.errors import TargetError

@pytest.fixture(autouse=True)
def unreachable(drill):
    drill.bringup.cannot_run = TargetError("engine unreachable")
''')
    pytester.makepyfile(test_c="def test_x(drill):\n    assert True\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 3


def test_plan_option_error_exits_2(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["fixtures.plan"]\n')
    bad = pytester.makefile(".toml", plan='[drill]\nactor = "f01000"\n[objectives]\nrto = "4 hours"\n')
    pytester.makepyfile(test_d="def test_x(plan):\n    pass\n")
    import shutil
    from pathlib import Path

    shutil.copytree(Path(__file__).parents[1] / "fixtures", pytester.path / "fixtures")
    result = pytester.runpytest("-p", "no:cacheprovider", "--plan", str(bad))
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*objectives.rto*duration like*"])
