"""Settings resolved once: the precedence of spdrill.settings' table, where a bad value came from, the mode."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from spdrill import settings as settings_mod
from spdrill.errors import InputError, UsageError
from spdrill.evidence.keys import keygen
from spdrill.settings import DEMO, PYTEST_SPELLING, Options, Settings, resolve

PLAN = '[drill]\nname = "{name}"\nactor = "f01000"\n[target]\nkind = "docker"\n[target.docker]\nimage = "x:1"\n'


def write(tmp_path: Path, name: str, extra: str = "") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(PLAN.format(name=name) + extra)
    return path


def no_demo() -> Path:
    raise AssertionError("the demo was made although a plan was given")


def go(options: Options, env: dict[str, str] | None = None, ini: str = "",
       demo_dir: Callable[[], Path] = no_demo) -> Settings:
    return resolve(options, env=env or {}, ini_plan=ini, demo_dir=demo_dir)


@pytest.mark.parametrize(("given", "expected", "origin"), [
    ({"option": True, "env": True, "ini": True}, "option", "--plan"),
    ({"env": True, "ini": True}, "env", "$SPDRILL_PLAN"),
    ({"ini": True}, "ini", "ini option spdrill_plan"),
])
def test_plan_precedence_option_env_ini(tmp_path: Path, given: dict[str, bool], expected: str, origin: str) -> None:
    paths = {name: write(tmp_path, name) for name in ("option", "env", "ini")}
    got = go(Options(plan=paths["option"] if given.get("option") else None),
             env={"SPDRILL_PLAN": str(paths["env"])} if given.get("env") else {},
             ini=str(paths["ini"]) if given.get("ini") else "")
    assert got.plan.name == expected and got.origin == origin and not got.simulated_demo


def test_no_plan_anywhere_is_the_demo_with_reports_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[Path, Path | None]] = []

    def fake_demo(workdir: Path, *, reports: Path | None = None) -> Path:
        made.append((workdir, reports))
        workdir.mkdir()
        return write(workdir, "demo (simulated)")

    monkeypatch.setattr("spdrill.demo.make_demo_plan", fake_demo)
    monkeypatch.chdir(tmp_path)
    got = go(Options(), demo_dir=lambda: tmp_path / "demo")
    assert got.simulated_demo and got.origin == DEMO and got.plan.name == "demo (simulated)"
    assert made == [(tmp_path / "demo", tmp_path / "reports")]  # ./reports, as `spdrill run` always did


def test_command_line_over_plan_for_target_reports_and_evidence(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    key, _ = keygen(tmp_path / "keys")
    plan = write(tmp_path, "p", '[reports]\ndir = "plan-reports"\nmetrics = "plan.prom"\nhistory = "h.db"\n'
                                'webhook = "https://plan.example/h"\n')
    monkeypatch.chdir(tmp_path)
    got = go(Options(plan=plan, target="local", reports=Path("mine"), sign_key=key, metrics=Path("cli.prom")))
    assert got.plan.target.kind == "local" and got.plan.target.options == {}  # the plan's docker options dropped
    ev = got.plan.evidence
    assert ev.dir == tmp_path / "mine" and ev.sign_key == key and ev.metrics == tmp_path / "cli.prom"
    assert ev.history == tmp_path / "h.db" and ev.webhook == "https://plan.example/h"  # the plan's, relative to it


@pytest.mark.parametrize(("option", "env", "expected"), [
    ("https://cli.example/h", "https://env.example/h", "https://cli.example/h"),
    (None, "https://env.example/h", "https://env.example/h"),
    (None, None, "https://plan.example/h"),
])
def test_webhook_option_then_environment_then_plan(tmp_path: Path, option: str | None, env: str | None,
                                                   expected: str) -> None:
    plan = write(tmp_path, "p", '[reports]\nwebhook = "https://plan.example/h"\n')
    got = go(Options(plan=plan, webhook=option), env={"SPDRILL_WEBHOOK": env} if env else {})
    assert got.plan.evidence.webhook == expected


@pytest.mark.parametrize(("options", "env", "named"), [
    (Options(webhook="ftp://x"), {}, "--webhook: expected an http:// or https:// URL"),
    (Options(webhook="ftp://x", spelling=PYTEST_SPELLING), {}, "--drill-webhook: expected"),
    (Options(), {"SPDRILL_WEBHOOK": "hooks.example"}, "$SPDRILL_WEBHOOK: expected"),
])
def test_a_bad_webhook_names_where_it_came_from(tmp_path: Path, options: Options, env: dict[str, str],
                                                named: str) -> None:
    with pytest.raises(UsageError, match=named.replace("$", r"\$")) as caught:
        go(dataclasses.replace(options, plan=write(tmp_path, "p")), env=env)
    assert caught.value.exit_code == 2


def test_a_bad_signing_key_is_exit_2_before_the_drill_naming_its_origin(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    plan = write(tmp_path, "p", f'[reports]\nsign_key = "{bad}"\n')
    with pytest.raises(InputError, match=r"p\.toml: reports\.sign_key: .*bad\.key: not an unencrypted ed25519"):
        go(Options(plan=plan))
    with pytest.raises(InputError, match=r"^--drill-sign: .*bad\.key") as caught:
        go(Options(plan=write(tmp_path, "q"), sign_key=bad, spelling=PYTEST_SPELLING))
    assert caught.value.exit_code == 2


def test_a_candidate_keeps_the_baseline(tmp_path: Path) -> None:
    plan = write(tmp_path, "p")
    got = go(Options(plan=plan, target="local", candidate="bin=/opt/lotus-new"))
    assert got.candidate == "bin=/opt/lotus-new" and got.plan.standby.bindir == "/opt/lotus-new"
    assert got.baseline is not None and got.baseline.standby.bindir != "/opt/lotus-new"
    base = got.baseline_settings()
    assert base.plan == got.baseline and base.candidate is None and base.baseline is None
    with pytest.raises(UsageError, match="expected bin=DIR or image=REF"):
        go(Options(plan=plan, candidate="lotus-new"))


def test_failover_only_from_the_command_line_and_confirmed(tmp_path: Path) -> None:
    plan = write(tmp_path, "p")
    assert go(Options(plan=plan)).failover is None
    assert go(Options(plan=plan, failover=True, confirm_failover="f01000")).failover is not None
    with pytest.raises(UsageError, match="does not match the plan's"):
        go(Options(plan=plan, failover=True, confirm_failover="f01001"))
    with pytest.raises(UsageError, match="cannot be combined with --candidate"):
        go(Options(plan=plan, failover=True, confirm_failover="f01000", candidate="bin=/x"))


def test_a_bad_plan_names_the_file_and_field(tmp_path: Path) -> None:
    plan = tmp_path / "bad.toml"
    plan.write_text('[drill]\nactor = "f01000"\n[objectives]\nrto = "4 hours"\n')
    with pytest.raises(UsageError, match=r"bad\.toml: objectives\.rto"):
        go(Options(), env={"SPDRILL_PLAN": str(plan)})


def test_settings_are_frozen_and_the_module_exports_its_surface(tmp_path: Path) -> None:
    got = go(Options(plan=write(tmp_path, "p")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.origin = "elsewhere"  # type: ignore[misc]
    assert set(settings_mod.__all__) == {"DEMO", "PYTEST_SPELLING", "RUN_SPELLING", "Options", "Settings",
                                         "resolve", "with_evidence"}
