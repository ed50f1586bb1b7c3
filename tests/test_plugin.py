"""The pytest plugin, through pytester: ordering, check records, green times, exit codes, settings handed in,
fixtures registered once, the reports sealed once after pytest's JUnit."""

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from spdrill.plan import parse_plan
from spdrill.pytest_plugin import GivenSettings
from spdrill.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

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
    pytester.makeconftest(CONFTEST.replace("d = Drill(", "d = Unreachable(") + '''
from spdrill.errors import TargetError

class Unreachable(Drill):
    @property
    def cannot_run(self):
        return TargetError("engine unreachable")
''')
    pytester.makepyfile(test_c="def test_x(drill):\n    assert True\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 3


def test_plan_option_error_exits_2(pytester: pytest.Pytester) -> None:
    """The plugin's own `plan` fixture (no conftest): a bad --plan ends the session with exit 2, naming the field."""
    bad = pytester.makefile(".toml", plan='[drill]\nactor = "f01000"\n[objectives]\nrto = "4 hours"\n')
    pytester.makepyfile(test_d="def test_x(plan):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--plan", str(bad))
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*objectives.rto*duration like*"])


def test_settings_handed_in_are_used_and_options_are_not_read(pytester: pytest.Pytester,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """What `spdrill run` does: the resolved settings go in as an object; $SPDRILL_PLAN is not read again."""
    monkeypatch.setenv("SPDRILL_PLAN", str(pytester.path / "nowhere.toml"))
    plan = parse_plan('[drill]\nname = "handed in"\nactor = "f01000"\n')
    pytester.makepyfile(test_e='''
def test_plan(plan, spdrill_settings):
    assert plan.name == "handed in" and spdrill_settings.origin == "--plan"
''')
    result = pytester.runpytest("-p", "no:cacheprovider", plugins=[GivenSettings(Settings(plan=plan, origin="--plan"))])
    result.assert_outcomes(passed=1)


SEALING = '''
import pytest
from spdrill.clock import FakeClock
from spdrill.drill import Drill
from spdrill.journal import Phase
from spdrill.plan import parse_plan
from spdrill.pytest_plugin import DRILL_KEY, keep_for_reports
from spdrill.targets.local import LocalTarget

@pytest.fixture(scope="session")
def drill(request, tmp_path_factory):
    plan = parse_plan(\'[drill]\\nactor = "f01000"\\n[reports]\\ndir = "{reports}"\\nsign_key = "{key}"\\n\')
    d = Drill(plan, target=LocalTarget({{"workdir": str(tmp_path_factory.mktemp("w"))}}), clock=FakeClock(),
              drill_id="sealed")
    request.config.stash[DRILL_KEY] = d
    d.board.publish(Phase.result("sync", True, "synced", 1.0))
    yield d
    keep_for_reports(request.config, d)
'''


def test_reports_are_sealed_once_with_pytests_junit_inside(pytester: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from spdrill.evidence.keys import keygen
    from spdrill.evidence.sign import make_bundle as real

    key, _ = keygen(pytester.path / "keys")
    reports = pytester.path / "reports"
    pytester.makeconftest(SEALING.format(reports=reports, key=key))
    pytester.makepyfile(test_f='''
from spdrill.assertions import stage_ok

def test_synced(drill):
    stage_ok(drill, "sync", advice="")
''')
    sealed: list[Path] = []

    def counting(folder: Path, *args: object, **kwargs: object) -> Path:
        sealed.append(folder)
        assert (folder / "junit-pytest.xml").is_file(), "sealed before pytest's JUnit was in the folder"
        return real(folder, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("spdrill.evidence.make_bundle", counting)  # what evidence.seal calls
    result = pytester.runpytest("-p", "no:cacheprovider", "--junitxml", "out/junit.xml")
    result.assert_outcomes(passed=1)
    assert sealed == [reports / "sealed"]
    with tarfile.open(reports / "sealed" / "evidence.tar.gz") as tar:
        assert {"junit-pytest.xml", "drill.json", "junit-drill.xml", "report.html"} <= set(tar.getnames())
    assert (pytester.path / "out" / "junit.xml").is_file()  # the operator's own --junitxml stays where asked
    assert (reports / "latest").resolve() == reports / "sealed"


def test_fixtures_are_registered_once_from_a_checkout() -> None:
    """`pytest drills/` at the root: the plugin registers the fixtures; the root conftest.py must not again."""
    out = subprocess.run([sys.executable, "-m", "pytest", "--fixtures", "-v", "-p", "no:cacheprovider",
                          "drills/test_chain.py"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    for name in ("plan", "spdrill_settings", "drill", "fullnode", "miner"):
        defs = [line for line in out.stdout.splitlines() if line.startswith(f"{name} [session scope] -- ")]
        assert len(defs) == 1, (name, defs)
        assert "spdrill/fixtures/" in defs[0], defs[0]


def test_lotus_client_fixtures_are_closed_at_session_end(pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from spdrill.lotus.rpc import ApiClient

    closed: list[str] = []
    monkeypatch.setattr(ApiClient, "close", lambda self: closed.append(type(self).__name__))
    pytester.makeconftest('''
import types
import pytest
from spdrill.lotus import ApiInfo

INFO = ApiInfo.parse("http://127.0.0.1:1")

class Standby:
    endpoints = types.SimpleNamespace(daemon_read=INFO, miner_read=INFO)

    def stage(self, name):
        return None

@pytest.fixture(scope="session")
def drill():
    return Standby()
''')
    pytester.makepyfile(test_g='''
def test_clients(fullnode, miner):
    assert type(fullnode).__name__ == "FullNodeClient" and type(miner).__name__ == "MinerClient"
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert sorted(closed) == ["FullNodeClient", "MinerClient"]
