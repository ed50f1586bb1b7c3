"""The drill plan: a TOML file saying what to restore, where, and the objectives, validated on load.

Every error names the file, the dotted field and the expected form, and is a PlanError (exit code 2).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from spdrill.duration import EXPECTED_FORM as DURATION_FORM
from spdrill.duration import parse_duration
from spdrill.errors import PlanError

T = TypeVar("T")

TARGET_KINDS = ("local", "attach", "docker", "ssh")
ACTOR_RE = re.compile(r"^[ft]0\d+$")
CHALLENGE_WINDOW_S = 30 * 60  # WPoStChallengeWindow = 60 epochs of 30 s


@dataclass(frozen=True)
class SourceSpec:
    """One `[[restore.source]]`: the table handed to the snapshot source, and where it lands in the workspace."""

    table: Mapping[str, Any]
    mount: str
    where: str


@dataclass(frozen=True)
class Layout:
    """Where the parts of a restore point lie inside the workspace (globs pick the newest match)."""

    daemon_repo: str = "lotus"
    miner_repo: str = "lotus-miner"
    chain_snapshot: str = "chain/*.car*"
    miner_backup: str = "backups/*.cbor"
    storage_remap: bool = True


@dataclass(frozen=True)
class Retention:
    """What the restore points of each source must look like (ransomware: HA is not DR)."""

    min_count: int = 1
    min_history: float | None = None  # the oldest restore point at least this old
    max_history: float | None = None  # ... and no older than this (pruning works)
    require_protection: bool = True  # ZFS holds / btrfs read-only flags on every restore point


@dataclass(frozen=True)
class RestoreSpec:
    """The restore points of a drill: one or more sources forming a snapshot set."""

    sources: tuple[SourceSpec, ...]
    window: float
    layout: Layout
    retention: Retention = Retention()


@dataclass(frozen=True)
class Ports:
    """API ports of the standby; 0 picks a free port (the default, so drills never collide)."""

    daemon: int = 0
    miner: int = 0
    worker: int = 0


def start_timeout_advice(env: Mapping[str, str]) -> str:
    """What to change when a role's API did not come up within [standby.timeouts] start.

    Every Lotus role runs go-paramfetch's GetParams before its API is up, and it blake2b-hashes each proof
    parameter file on every start unless the environment says TRUST_PARAMS=1 (go-paramfetch paramfetch.go
    ``checkFile``; only ``.params`` files are skipped, and never the snap-deal ones).
    """
    if env.get("TRUST_PARAMS") == "1":
        return "raise [standby.timeouts] start"
    return ("raise [standby.timeouts] start: before its API answers, each Lotus role hashes its proof parameters "
            "(the 32GiB .params files are tens of GiB), unless [standby.env] TRUST_PARAMS = \"1\"")


@dataclass(frozen=True)
class Timeouts:
    """Upper bounds of each wait, in seconds; a phase that exceeds its bound fails."""

    start: float = 120.0
    import_chain: float = 3 * 3600.0
    sync: float = 4 * 3600.0
    post: float = CHALLENGE_WINDOW_S * 1.0
    # A wait that sees no progress (the sync head's height) for this long ends at once, naming what stopped.
    stall: float = 600.0


@dataclass(frozen=True)
class Requirements:
    """What the standby host must offer (checked by the host drills); sizes in bytes."""

    gpu: bool = True  # the standby host has an NVIDIA GPU (nvidia-smi on the host)
    worker_gpu: bool = True  # the WindowPoSt worker reports a GPU to lotus-miner (WorkerStats)
    gpu_model: str = ""
    gpu_free_memory: int = 8 * 2**30 + 2**29  # Lotus docs: WindowPoSt needs about 8.5 GiB of GPU memory
    ram: int = 0
    proof_params: bool = True
    sector_size: int = 32 * 2**30
    verify_param_digests: bool = False


@dataclass(frozen=True)
class StandbySpec:
    """How to start the standby's three roles."""

    bindir: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    daemon_args: tuple[str, ...] = ()
    miner_args: tuple[str, ...] = ()
    worker_args: tuple[str, ...] = ()
    ports: Ports = Ports()
    timeouts: Timeouts = Timeouts()
    requirements: Requirements = Requirements()


@dataclass(frozen=True)
class ReportsSpec:
    """Where evidence goes and who hears about it."""

    dir: Path = Path("reports")
    sign_key: Path | None = None
    metrics: Path | None = None
    webhook: str | None = None
    history: Path | None = None
    regression_tolerance: float = 0.20  # an RTO this much worse than the median of the last drills regressed
    regression_window: int = 5  # how many earlier drills that median is taken over


@dataclass(frozen=True)
class TargetSpec:
    """Where the standby runs, with that target's own options."""

    kind: str = "local"
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Objectives:
    """What a passing drill must meet."""

    rto: float = 4 * 3600.0
    rpo: float = 24 * 3600.0
    post_margin: float = 10 * 60.0
    must_not_miss: str | tuple[int, ...] | None = None  # "all" or deadline indices an outage of RTO must not miss


@dataclass(frozen=True)
class Plan:
    """A validated drill plan."""

    source: str
    digest: str
    name: str
    actor: str
    restore: RestoreSpec
    target: TargetSpec
    standby: StandbySpec
    objectives: Objectives
    evidence: ReportsSpec = ReportsSpec()
    # [failover] nosync: `lotus-miner init restore --nosync` in failover mode. Failover itself is never a plan
    # setting (only `spdrill run --failover --confirm-failover ACTOR`), so a scheduled drill cannot become one.
    failover_nosync: bool = False

    @property
    def reports(self) -> Path:
        """The folder drills write their reports into ([reports] dir)."""
        return self.evidence.dir


class _Reader:
    """Takes typed values out of TOML tables, remembering the file for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> PlanError:
        return PlanError(message, source=self.source, field=where)

    def table(self, parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(_join(where, key), f"expected a table ([{_join(where, key)}]), found {_tname(value)}")
        return value

    def get(self, t: Mapping[str, Any], key: str, where: str, kind: type[T], default: T) -> T:
        if key not in t:
            return default
        value = t[key]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)  # type: ignore[return-value]
        if not ok:
            raise self.fail(_join(where, key), f"expected {_kname(kind)}, found {_tname(value)} {value!r}")
        return value  # type: ignore[no-any-return]

    def duration(self, t: Mapping[str, Any], key: str, where: str, default: float) -> float:
        if key not in t:
            return default
        value = t[key]
        if not isinstance(value, str):
            raise self.fail(_join(where, key), f"expected {DURATION_FORM}, found {_tname(value)} {value!r}")
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise self.fail(_join(where, key), str(exc)) from None
        if seconds <= 0:
            raise self.fail(_join(where, key), f"expected a positive duration, found {value!r}")
        return seconds

    def strings(self, t: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = t.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(_join(where, key), f"expected a list of strings, found {value!r}")
        return tuple(value)

    def port(self, t: Mapping[str, Any], key: str, where: str) -> int:
        value = self.get(t, key, where, int, 0)
        if not 0 <= value <= 65535:
            raise self.fail(_join(where, key), f"expected a TCP port 1-65535, or 0 for a free one, found {value}")
        return value

    def known(self, t: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        for key in t:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                raise self.fail(_join(where, key), f"unknown key; expected one of: {hint}")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _tname(value: object) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)


def _kname(kind: type) -> str:
    return {str: "a string", bool: "true or false", int: "an integer", float: "a number"}.get(kind, kind.__name__)


SourceValidator = Callable[[Mapping[str, Any], str], None]


def parse_plan(text: str, *, source: str = "<plan>", base_dir: Path | None = None,
               validate_source: SourceValidator | None = None) -> Plan:
    """Parse and validate plan text; `validate_source` checks each restore source table (snapshots package)."""
    r = _Reader(source)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"not valid TOML: {exc}", source=source) from None
    r.known(doc, "", {"drill", "objectives", "restore", "target", "standby", "reports", "failover"})
    base = base_dir or Path.cwd()

    d = r.table(doc, "drill", "")
    r.known(d, "drill", {"name", "actor"})
    actor = r.get(d, "actor", "drill", str, "")
    if not ACTOR_RE.match(actor):
        raise r.fail("drill.actor", f"expected the miner's ID address like \"f01234\", found {actor!r}")
    name = r.get(d, "name", "drill", str, f"drill-{actor}")

    o = r.table(doc, "objectives", "")
    r.known(o, "objectives", {"rto", "rpo", "post_margin", "must_not_miss"})
    objectives = Objectives(
        rto=r.duration(o, "rto", "objectives", Objectives.rto),
        rpo=r.duration(o, "rpo", "objectives", Objectives.rpo),
        post_margin=r.duration(o, "post_margin", "objectives", Objectives.post_margin),
        must_not_miss=_must_not_miss(r, o.get("must_not_miss")),
    )
    if objectives.post_margin >= CHALLENGE_WINDOW_S:
        raise r.fail("objectives.post_margin", "expected less than the 30m challenge window, found "
                     f"{objectives.post_margin:.0f}s")

    restore = _restore(r, r.table(doc, "restore", ""), validate_source)
    target = _target(r, r.table(doc, "target", ""))
    standby = _standby(r, r.table(doc, "standby", ""))

    rep = r.table(doc, "reports", "")
    r.known(rep, "reports", {"dir", "sign_key", "metrics", "webhook", "history", "regression_tolerance",
                             "regression_window"})

    def _path(key: str, default: str | None) -> Path | None:
        value = r.get(rep, key, "reports", str, default or "")
        if not value:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else base / p

    reports = _path("dir", "reports") or base / "reports"
    webhook = r.get(rep, "webhook", "reports", str, "") or None
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise r.fail("reports.webhook", f"expected an http:// or https:// URL, found {webhook!r}")
    tolerance = r.get(rep, "regression_tolerance", "reports", float, ReportsSpec.regression_tolerance)
    if not 0 <= tolerance <= 10:
        raise r.fail("reports.regression_tolerance", f"expected a fraction like 0.2 (20 %), found {tolerance}")
    window = r.get(rep, "regression_window", "reports", int, ReportsSpec.regression_window)
    if not 1 <= window <= 1000:
        raise r.fail("reports.regression_window", f"expected a number of drills 1-1000, found {window}")
    evidence = ReportsSpec(dir=reports, sign_key=_path("sign_key", None), metrics=_path("metrics", None),
                           webhook=webhook, history=_path("history", None), regression_tolerance=tolerance,
                           regression_window=window)
    fo = r.table(doc, "failover", "")
    r.known(fo, "failover", {"nosync"})  # no `enabled`: failover is asked for on the command line only
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Plan(source=source, digest=digest, name=name, actor=actor, restore=restore, target=target,
                standby=standby, objectives=objectives, evidence=evidence,
                failover_nosync=r.get(fo, "nosync", "failover", bool, False))


def _must_not_miss(r: _Reader, value: object) -> str | tuple[int, ...] | None:
    if value is None:
        return None
    if value == "all":
        return "all"
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 48
                                       for v in value):
        return tuple(sorted(set(value)))
    raise r.fail("objectives.must_not_miss", f'expected "all" or a list of deadline indices 0-47, found {value!r}')


def _restore(r: _Reader, t: Mapping[str, Any], validate_source: SourceValidator | None) -> RestoreSpec:
    r.known(t, "restore", {"window", "source", "layout", "retention"})
    raw = t.get("source", [])
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise r.fail("restore.source", "expected one or more [[restore.source]] tables")
    sources = []
    for i, s in enumerate(raw):
        where = f"restore.source[{i}]"
        mount = s.get("mount", ".")
        if not isinstance(mount, str) or mount.startswith("/") or ".." in Path(mount).parts:
            raise r.fail(f"{where}.mount", f"expected a relative folder inside the workspace, found {mount!r}")
        table = {k: v for k, v in s.items() if k != "mount"}
        if "kind" not in table:
            raise r.fail(f"{where}.kind", 'missing; expected "directory", "zfs" or "btrfs"')
        if validate_source is not None:
            validate_source(table, where)
        sources.append(SourceSpec(table=table, mount=mount, where=where))
    mounts = [s.mount for s in sources]
    if len(set(mounts)) != len(mounts):
        raise r.fail("restore.source", f"two sources share a mount point: {mounts}")
    lt = r.table(t, "layout", "restore")
    r.known(lt, "restore.layout", set(Layout.__dataclass_fields__))
    layout = Layout(**{k: r.get(lt, k, "restore.layout", type(getattr(Layout(), k)), getattr(Layout(), k))
                       for k in Layout.__dataclass_fields__})
    rt = r.table(t, "retention", "restore")
    where = "restore.retention"
    r.known(rt, where, {"min_count", "min_history", "max_history", "require_protection"})
    min_count = r.get(rt, "min_count", where, int, 1)
    if min_count < 0:
        raise r.fail(f"{where}.min_count", f"expected a number of restore points >= 0, found {min_count}")
    retention = Retention(min_count=min_count,
                          min_history=r.duration(rt, "min_history", where, 0.0) or None,
                          max_history=r.duration(rt, "max_history", where, 0.0) or None,
                          require_protection=r.get(rt, "require_protection", where, bool, True))
    return RestoreSpec(sources=tuple(sources), window=r.duration(t, "window", "restore", 3600.0), layout=layout,
                       retention=retention)


def _target(r: _Reader, t: Mapping[str, Any]) -> TargetSpec:
    kind = r.get(t, "kind", "target", str, "local")
    if kind not in TARGET_KINDS:
        raise r.fail("target.kind", f"expected one of {', '.join(TARGET_KINDS)}, found {kind!r}")
    r.known(t, "target", {"kind", *TARGET_KINDS})
    for other in TARGET_KINDS:
        r.table(t, other, "target")
    return TargetSpec(kind=kind, options=dict(t.get(kind, {})))


def _standby(r: _Reader, t: Mapping[str, Any]) -> StandbySpec:
    r.known(t, "standby", {"bindir", "env", "daemon_args", "miner_args", "worker_args", "ports", "timeouts",
                           "requirements"})
    env = r.table(t, "env", "standby")
    for k, v in env.items():
        if not isinstance(v, str):
            raise r.fail(f"standby.env.{k}", f"expected a string, found {_tname(v)} {v!r}")
    p = r.table(t, "ports", "standby")
    r.known(p, "standby.ports", {"daemon", "miner", "worker"})
    ports = Ports(*(r.port(p, k, "standby.ports") for k in ("daemon", "miner", "worker")))
    to = r.table(t, "timeouts", "standby")
    r.known(to, "standby.timeouts", set(Timeouts.__dataclass_fields__))
    timeouts = Timeouts(**{k: r.duration(to, k, "standby.timeouts", getattr(Timeouts(), k))
                           for k in Timeouts.__dataclass_fields__})
    bindir = r.get(t, "bindir", "standby", str, "") or None
    return StandbySpec(bindir=bindir, env=dict(env), daemon_args=r.strings(t, "daemon_args", "standby"),
                       miner_args=r.strings(t, "miner_args", "standby"),
                       worker_args=r.strings(t, "worker_args", "standby"), ports=ports, timeouts=timeouts,
                       requirements=_requirements(r, r.table(t, "requirements", "standby")))


SIZE_FORM = 'a size like "8GiB", "512MiB", "32GiB" or a number of bytes'
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?\s*$")
_SIZE_UNITS = {None: 1, "B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
               "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def parse_size(text: str) -> int:
    """Bytes for "8GiB", "512MiB", "2KiB", "4096"; ValueError naming the expected form."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not {SIZE_FORM}")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])


def _requirements(r: _Reader, t: Mapping[str, Any]) -> Requirements:
    where = "standby.requirements"
    r.known(t, where, set(Requirements.__dataclass_fields__))
    d = Requirements()
    sizes = {}
    for key in ("gpu_free_memory", "ram", "sector_size"):
        value = t.get(key)
        if value is None:
            sizes[key] = getattr(d, key)
            continue
        try:
            sizes[key] = value if isinstance(value, int) and not isinstance(value, bool) else parse_size(str(value))
        except ValueError as exc:
            raise r.fail(f"{where}.{key}", str(exc)) from None
    return Requirements(gpu=r.get(t, "gpu", where, bool, d.gpu), gpu_model=r.get(t, "gpu_model", where, str, ""),
                        worker_gpu=r.get(t, "worker_gpu", where, bool, d.worker_gpu),
                        proof_params=r.get(t, "proof_params", where, bool, d.proof_params),
                        verify_param_digests=r.get(t, "verify_param_digests", where, bool, d.verify_param_digests),
                        **sizes)


def load_plan(path: Path, *, validate_source: SourceValidator | None = None) -> Plan:
    """Read and validate a plan file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError("no such file; pass an existing plan (see `spdrill plan example`)",
                        source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read the plan: {exc.__class__.__name__}", source=str(path)) from None
    return parse_plan(text, source=str(path), base_dir=path.parent.resolve(), validate_source=validate_source)
