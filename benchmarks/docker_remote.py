"""The same simulated drill on the docker target, bind-mounted (unix socket) and in a volume (tcp + TLS).

`harness`: DOCKER_HOST unset, the drill folder bind-mounted (today's default). `volume`: DOCKER_HOST =
tcp://127.0.0.1:<port> through a TLS front with client certificates (socat, as in the tests), restore =
"volume": the restored folder is streamed into a named volume through the engine API inside the restore
phase, and every later file read or write goes through `docker exec`. `remote`: the same TLS engine, the
restore run on the engine's host by a helper container (`chroot` into its `/`), the folder bind-mounted
there. Prints RTO and the restore phase (median of --runs) and /proc/loadavg before and after. Needs root,
Debian's docker.io and socat; a Docker engine is started when none answers (and stopped after).

Usage: .venv/bin/python benchmarks/docker_remote.py [--runs 3] [--sectors 64]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spdrill.demo import make_demo_plan

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "targets"))
from docker_tls import TlsEngine, tls_front  # noqa: E402 - the tests' TLS front, one copy

REQUIREMENTS = "\n[standby.requirements]\ngpu = false\nproof_params = false\n"


@contextmanager
def engine() -> Iterator[None]:
    """The local Docker engine; started here when none answers, and stopped after."""
    import docker

    try:
        docker.from_env(timeout=30).ping()
        yield
        return
    except Exception:
        pass
    d = Path(tempfile.mkdtemp(prefix="spdrill-bench-dockerd-"))
    with open(d / "log", "wb") as log:
        proc = subprocess.Popen(["dockerd", "--pidfile", str(d / "pid")], stdout=log, stderr=log)
        try:
            for _ in range(120):
                try:
                    docker.from_env(timeout=30).ping()
                    break
                except Exception:
                    time.sleep(0.5)
            yield
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            shutil.rmtree(d, ignore_errors=True)


def one_drill(plan_text: str, table: str, workdir: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run `spdrill run`; return (RTO, restore phase) in seconds."""
    workdir.mkdir(parents=True)
    start, end = plan_text.index("[target]"), plan_text.index("[standby]")
    plan, reports = workdir / "plan.toml", workdir / "reports"
    text = plan_text[:start] + table + "\n" + plan_text[end:]
    text = re.sub(r"(?ms)^\[standby\.requirements\]\n.*?(?=^\[|\Z)", "", text) + REQUIREMENTS
    plan.write_text(re.sub(r'(?m)^dir = ".*"$', f'dir = "{reports}"', text))
    spdrill = str(Path(sys.executable).with_name("spdrill"))
    p = subprocess.run([spdrill, "run", "--plan", str(plan)], capture_output=True, text=True, timeout=900,
                       env={**os.environ, **env})
    if p.returncode != 0:
        raise RuntimeError(f"exit {p.returncode}: {' | '.join((p.stdout + p.stderr).strip().splitlines()[-6:])}")
    rec = json.loads((reports / "latest" / "drill.json").read_text())
    restore = next(x for x in rec["phases"] if x["name"] == "restore")
    return float(rec["rto_seconds"]), float(restore["end"]) - float(restore["start"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sectors", type=int, default=64)
    args = parser.parse_args()
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    for key in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        os.environ.pop(key, None)  # the harness row is the local unix socket
    base = Path(tempfile.mkdtemp(prefix="spdrill-bench-docker-remote-", dir="/var/tmp"))
    rows: dict[str, tuple[float, float] | str] = {}
    load_before = Path("/proc/loadavg").read_text().strip()
    try:
        with engine(), tls_front(base / "tls", "/var/run/docker.sock") as front:
            from spdrill.image import build_sim_image

            image = build_sim_image(log=lambda _line: None)
            plan_text = make_demo_plan(base / "demo", sectors=args.sectors, deadlines=4).read_text()
            modes: list[tuple[str, str, dict[str, str]]] = [("harness (unix)", "harness", {})]
            if isinstance(front, TlsEngine):
                modes.append(("volume (tcp+TLS)", "volume", front.env()))
                modes.append(("remote (tcp+TLS)", "remote", front.env()))
            else:
                rows["volume (tcp+TLS)"] = rows["remote (tcp+TLS)"] = f"not measured: {front}"
            for label, mode, env in modes:
                samples = []
                try:
                    for i in range(args.runs):
                        work = base / f"{mode}-{i}"
                        table = (f'[target]\nkind = "docker"\n\n[target.docker]\nworkdir = "{work / "run"}"\n'
                                 f'image = "{image}"\nrestore = "{mode}"\n')
                        samples.append(one_drill(plan_text, table, work, env))
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    rows[label] = f"not measured: {exc}"
                    continue
                rows[label] = (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"{'docker target':18} {'RTO s':>8} {'restore s':>10}   (median of {args.runs}, {args.sectors} sectors, "
          "simulated)")
    for label, r in rows.items():
        print(f"{label:18} {r[0]:>8.2f} {r[1]:>10.2f}" if isinstance(r, tuple) else f"{label:18} {r}")
    print(f"loadavg before: {load_before}; after: {Path('/proc/loadavg').read_text().strip()}")
    return 0 if all(isinstance(r, tuple) for r in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
