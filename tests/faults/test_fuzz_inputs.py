"""Bad input under hypothesis: the plan parser, the CAR reader and the backup reader raise only spdrill's own
errors (never a traceback), and a bad plan is exit 2 with a message naming the file.

The backup reader's fuzzing is in tests/lotus/test_backup.py (random bytes and single-byte mutations of valid
backups, 1,000 examples each); its command, `spdrill check-backup`, is fuzzed here. The CAR reader's garbage
test in tests/lotus/test_car.py (500 examples) is extended here by mutations of the real calibnet genesis CAR.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spdrill.errors import InputError, PlanError
from spdrill.lotus.car import read_snapshot_head
from spdrill.plan import parse_plan

SPDRILL = str(Path(sys.executable).with_name("spdrill"))
LOTUS_SIM = str(Path(sys.executable).with_name("lotus-sim"))
GENESIS = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "fixtures"
    / "real-chain"
    / "calibnet-genesis.car.zst"
)
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
EXAMPLE = subprocess.run([SPDRILL, "plan", "example"], capture_output=True, text=True, check=True).stdout
ASSIGNMENT = re.compile(r"^(\s*[A-Za-z_]+\s*=\s*)(.+)$", re.MULTILINE)
VALUE_LINES = [m.span(2) for m in ASSIGNMENT.finditer(EXAMPLE)]

# TOML literals of every kind, right and wrong for whichever field they land in.
_scalar = st.one_of(
    st.text(max_size=30).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.from_regex(r"[0-9]{1,4}(s|m|h|d|ms| minutes|h30m|)", fullmatch=True).map(lambda s: f'"{s}"'),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(f), repr(f))
    ),
    st.sampled_from(["true", "false", "[]", "{}", '"f01234"', '"f0"', '"t01"', '""', "1979-05-27T07:32:00Z"]),
)
LITERAL = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), inner, max_size=3).map(
            lambda d: "{" + ", ".join(f"{k} = {v}" for k, v in d.items()) + "}"
        ),
    ),
    max_leaves=6,
)


def _only_plan_error(text: str) -> None:
    try:
        parse_plan(text, source="fuzz.toml", base_dir=Path("/nonexistent"))
    except PlanError as exc:
        assert "fuzz.toml" in str(exc) and len(str(exc)) > len("fuzz.toml"), str(exc)


@given(st.text(max_size=400))
@FUZZ
def test_plan_parser_on_any_text(text: str) -> None:
    _only_plan_error(text)


@given(st.lists(st.tuples(st.integers(min_value=0), LITERAL), min_size=1, max_size=3))
@FUZZ
def test_plan_parser_on_mutated_example(edits: list[tuple[int, str]]) -> None:
    """One to three values of the commented example plan replaced by arbitrary TOML literals."""
    text = EXAMPLE
    for where, literal in sorted(
        ((VALUE_LINES[i % len(VALUE_LINES)], lit) for i, lit in edits), reverse=True
    ):
        start, end = where
        text = text[:start] + literal + text[end:]
    _only_plan_error(text)


@given(st.lists(st.tuples(st.integers(min_value=0), LITERAL), min_size=1, max_size=2))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_bad_plan_is_exit_2_with_a_message(tmp_path: Path, edits: list[tuple[int, str]]) -> None:
    text = EXAMPLE.replace('actor = "f01234"', 'actor = "f1234"')  # always wrong, whatever else changes
    for i, literal in edits:
        start, end = VALUE_LINES[i % len(VALUE_LINES)]
        if EXAMPLE[start:end] != '"f01234"':
            text = text.replace(EXAMPLE[start:end], literal, 1)
    plan = tmp_path / "bad-plan.toml"
    plan.write_text(text)
    done = subprocess.run([SPDRILL, "plan", "check", str(plan)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "bad-plan.toml" in done.stderr and "Traceback" not in done.stdout + done.stderr


@pytest.fixture(scope="module")
def genesis_car() -> bytes:
    if not GENESIS.exists():
        pytest.skip(f"the real calibnet genesis CAR is not at {GENESIS} (../shared is absent)")
    with GENESIS.open("rb") as f:
        return zstandard.ZstdDecompressor().stream_reader(f).read()


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=4095), st.integers(0, 255)), min_size=1, max_size=4
    ),
    st.one_of(st.none(), st.integers(min_value=0, max_value=8192)),
    st.booleans(),
)
@FUZZ
def test_car_reader_on_mutated_real_genesis(
    tmp_path: Path, genesis_car: bytes, edits: list[tuple[int, int]], cut: int | None, compress: bool
) -> None:
    """Header and first blocks overwritten, the file cut short, raw or zstd: InputError or a head."""
    data = bytearray(genesis_car)
    for where, byte in edits:
        data[where] = byte
    body = bytes(data if cut is None else data[:cut])
    path = tmp_path / ("fuzz.car.zst" if compress else "fuzz.car")
    path.write_bytes(zstandard.ZstdCompressor(level=1).compress(body) if compress else body)
    try:
        head = read_snapshot_head(path)
    except InputError as exc:
        assert "fuzz.car" in str(exc), str(exc)
        return
    assert head.height >= 0 and head.roots


@pytest.fixture(scope="module")
def valid_backup(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    fx = tmp_path_factory.mktemp("backup")
    subprocess.run(
        [LOTUS_SIM, "make-fixture", str(fx), "--sectors", "8", "--deadlines", "1"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return next((fx / "restore-point" / "backups").glob("*.cbor")).read_bytes()


@given(st.integers(min_value=0), st.integers(0, 255), st.booleans())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_check_backup_command_on_mutated_backups(
    tmp_path: Path, valid_backup: bytes, where: int, byte: int, truncate: bool
) -> None:
    """`spdrill check-backup` answers 0 or 1 with the reason, never a traceback."""
    data = bytearray(valid_backup)
    data[where % len(data)] = byte
    path = tmp_path / "mutated.cbor"
    path.write_bytes(bytes(data[: where % len(data)]) if truncate else bytes(data))
    done = subprocess.run([SPDRILL, "check-backup", str(path)], capture_output=True, text=True, timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode in (0, 1) and "Traceback" not in out, out
    assert done.returncode == 0 or "mutated.cbor" in out


def test_the_guard_fails_on_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fuzz oracle is not vacuous: an error other than PlanError escapes it, as does a nameless one."""
    monkeypatch.setattr(sys.modules[__name__], "parse_plan", lambda *a, **k: {"": 1}["boom"])
    with pytest.raises(KeyError):
        _only_plan_error("")

    def nameless(*_a: object, **_k: object) -> None:
        raise PlanError("bad")

    monkeypatch.setattr(sys.modules[__name__], "parse_plan", nameless)
    with pytest.raises(AssertionError):
        _only_plan_error("")
