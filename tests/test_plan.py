from pathlib import Path

import pytest

from spdrill.errors import PlanError
from spdrill.plan import load_plan, parse_plan, parse_size
from spdrill.planload import load_validated

MINIMAL = '[drill]\nactor = "f01000"\n'


def test_minimal_plan_has_defaults() -> None:
    plan = parse_plan(MINIMAL)
    assert plan.actor == "f01000"
    assert plan.objectives.rto == 4 * 3600
    assert plan.target.kind == "local"
    assert plan.standby.ports.daemon == 0


@pytest.mark.parametrize(("text", "field", "expected"), [
    ('[drill]\nactor = "f01000"\n[objectives]\nrto = "4 hours"\n', "objectives.rto", "duration like"),
    ('[drill]\nactor = "f01000"\n[objectives]\nrpo = 90\n', "objectives.rpo", "duration like"),
    ('[drill]\nactor = "f01000"\n[objectives]\npost_margin = "45m"\n', "objectives.post_margin", "30m"),
    ('[drill]\nactor = "f01000"\ncolour = "red"\n', "drill.colour", "unknown key"),
    ('[drill]\nactor = "miner1"\n', "drill.actor", "ID address"),
    ('[drill]\nactor = "f01000"\n[target]\nkind = "cloud"\n', "target.kind", "expected one of"),
    ('[drill]\nactor = "f01000"\n[standby.ports]\ndaemon = 70000\n', "standby.ports.daemon", "TCP port"),
    ('[drill]\nactor = "f01000"\n[standby.ports]\ndaemon = "1234"\n', "standby.ports.daemon", "an integer"),
    ('[drill]\nactor = "f01000"\n[standby]\nenv = { A = 1 }\n', "standby.env.A", "a string"),
    ('[drill]\nactor = "f01000"\n[[restore.source]]\npath = "/x"\n', "restore.source[0].kind", "missing"),
    ('[drill]\nactor = "f01000"\n[[restore.source]]\nkind = "directory"\nmount = "/abs"\n',
     "restore.source[0].mount", "relative"),
    ('[drill]\nactor = "f01000"\n[reports]\nwebhook = "ftp://x"\n', "reports.webhook", "http"),
    ('[drill]\nactor = "f01000"\n[standby.requirements]\nram = "lots"\n', "standby.requirements.ram", "size"),
    ('[drill]\nactor = "f01000"\n[reports]\nregression_tolerance = -1\n', "reports.regression_tolerance",
     "fraction"),
    ('[drill]\nactor = "f01000"\n[reports]\nregression_window = 0\n', "reports.regression_window", "1-1000"),
    ('[drill]\nactor = "f01000"\n[objectives]\nmust_not_miss = [48]\n', "objectives.must_not_miss", "0-47"),
    ('[drill]\nactor = "f01000"\n[restore.retention]\nmin_history = "a week"\n', "restore.retention.min_history",
     "duration like"),
])
def test_plan_errors_name_the_field(text: str, field: str, expected: str) -> None:
    with pytest.raises(PlanError) as exc:
        parse_plan(text, source="p.toml")
    assert exc.value.exit_code == 2
    assert exc.value.field == field
    assert str(exc.value).startswith(f"p.toml: {field}: ")
    assert expected in str(exc.value)


def test_bad_toml_names_the_file() -> None:
    with pytest.raises(PlanError, match="p.toml: not valid TOML"):
        parse_plan("[drill\n", source="p.toml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="no such file"):
        load_plan(tmp_path / "nope.toml")


def test_shipped_example_is_valid() -> None:
    example = Path(__file__).parents[1] / "src/spdrill/data/plan-example.toml"
    plan = parse_plan(example.read_text(), source=str(example))
    assert plan.restore.sources[0].table["kind"] == "zfs"
    assert plan.standby.requirements.gpu


def test_restore_sources_validated_on_load(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text(MINIMAL + '[[restore.source]]\nkind = "directory"\npath = "/x"\nbogus = 1\n')
    with pytest.raises(PlanError, match=r"restore.source\[0\].bogus"):
        load_validated(f)


def test_target_options_validated_on_load(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text(MINIMAL + '[target.local]\nworkdir = "relative"\n')
    with pytest.raises(PlanError, match=r"p.toml: target.local.workdir: expected an absolute folder"):
        load_validated(f)


def test_parse_size() -> None:
    assert parse_size("8GiB") == 8 * 2**30
    assert parse_size("2KiB") == 2048
    assert parse_size("4096") == 4096
    with pytest.raises(ValueError):
        parse_size("8 gigs")


def test_digest_changes_with_text() -> None:
    assert parse_plan(MINIMAL).digest != parse_plan(MINIMAL + "\n").digest


def test_trust_params_reaches_the_standby_env_and_shapes_the_start_advice() -> None:
    # go-paramfetch (paramfetch.go checkFile) skips blake2b-hashing the .params files when the environment has
    # TRUST_PARAMS=1; GetParams runs in every role before its API answers (cli/lotus/daemon.go:254,
    # node/builder_miner.go:67-69, cli/worker/worker.go:482), so the start timeout must allow for the hashing.
    from spdrill.plan import start_timeout_advice

    plan = parse_plan(MINIMAL + '[standby.env]\nTRUST_PARAMS = "1"\n')
    assert plan.standby.env["TRUST_PARAMS"] == "1"
    assert start_timeout_advice(plan.standby.env) == "raise [standby.timeouts] start"
    advice = start_timeout_advice(parse_plan(MINIMAL).standby.env)
    assert "hashes its proof parameters" in advice and 'TRUST_PARAMS = "1"' in advice
    example = Path(__file__).parents[1] / "src/spdrill/data/plan-example.toml"
    assert '# TRUST_PARAMS = "1"' in example.read_text()
