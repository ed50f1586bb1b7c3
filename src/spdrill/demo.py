"""The built-in default: a simulated restore point made with the Lotus stand-in, and a plan for it."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

from spdrill.errors import UsageError
from spdrill.targets.limits import LOTUS_WORKER_NOFILE

DEMO_ACTOR = "f01000"
SIM_RECORDS = "drill-sim-records"  # the stand-in's record of attempted message pushes


def _lotus_sim(*args: str) -> str:
    beside = Path(sys.executable).with_name("lotus-sim")  # the same environment as spdrill, activated or not
    exe = str(beside) if beside.is_file() else shutil.which("lotus-sim")
    if exe is None:
        raise UsageError("no plan was given and the Lotus stand-in (lotus-sim) is not installed; pass --plan FILE "
                         "(see `spdrill plan example`) or install spdrill from its repository (pip install -e .)")
    p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise UsageError(f"lotus-sim {args[0]} failed (exit {p.returncode}): {p.stderr.strip()[-400:]}")
    return p.stdout.strip()


def stand_in_fd_floor() -> dict[str, str]:
    """The stand-in's open-files minimum for its worker, lowered to this host's hard limit when that is short.

    Real lotus-worker exits below a soft limit of 100000 (cli/worker/worker.go:309-318) and so does the
    stand-in; a host whose hard limit is lower (containers often cap it) could never run the demo. spdrill
    still raises the soft limit as far as it can and says so in the worker's log when it falls short.
    """
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard >= LOTUS_WORKER_NOFILE:
        return {}
    return {"LOTUS_SIM_WORKER_FD_MIN": str(hard)}


def make_demo_plan(workdir: Path, *, sectors: int = 64, deadlines: int = 4, snapshot_age: str = "2h",
                   extra_fixture_args: tuple[str, ...] = (), env: dict[str, str] | None = None,
                   reports: Path | None = None) -> Path:
    """Write a simulated restore point under `workdir` and a plan that drills it on the local target."""
    workdir.mkdir(parents=True, exist_ok=True)
    fixture = workdir / "fixture"
    _lotus_sim("make-fixture", str(fixture), "--sectors", str(sectors), "--deadlines", str(deadlines),
               "--snapshot-age", snapshot_age, "--miner", DEMO_ACTOR, *extra_fixture_args)
    # The stand-in writes the restore point now but dates its files as if taken earlier; date the folder
    # like its metadata backup, as a backup tool would have, so the RPO is the backup's age.
    backups = sorted((fixture / "restore-point" / "backups").glob("*.cbor"))
    if backups:
        taken = backups[-1].stat().st_mtime
        os.utime(fixture / "restore-point", (taken, taken))
    bindir = _lotus_sim("bindir")
    # Where the stand-in records every MpoolPushMessage it is asked for: outside the drill folder, so the record
    # outlives the drill and shows that a drill never sent a message on chain (DESIGN rule 3).
    env = {"LOTUS_SIM_RECORD_DIR": str(workdir / SIM_RECORDS), **stand_in_fd_floor(), **(env or {})}
    env_lines = "\n".join(f'{k} = "{v}"' for k, v in env.items())
    plan = workdir / "plan.toml"
    plan.write_text(f"""# Built-in demo: a simulated restore point made by lotus-sim (NOT real Lotus).
[drill]
name = "demo (simulated)"
actor = "{DEMO_ACTOR}"

[objectives]
rto = "10m"
rpo = "24h"
post_margin = "10m"

[[restore.source]]
kind = "directory"
path = "{fixture / 'restore-point'}"
single = true

[target]
kind = "local"

[target.local]
workdir = "{workdir / 'run'}"

[standby]
bindir = "{bindir}"

[standby.env]
{env_lines}

[standby.requirements]
# The simulated standby runs on this host, which need not have an NVIDIA driver or the proof parameters:
# those host checks are skipped. The simulated WindowPoSt worker reports its GPU through the Lotus API,
# and the worker check requires it.
gpu = false
proof_params = false
worker_gpu = true

[standby.timeouts]
start = "60s"
import_chain = "2m"
sync = "2m"
post = "5m"

[reports]
dir = "{reports or workdir / 'reports'}"
""")
    return plan
