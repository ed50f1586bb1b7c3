"""The same simulated drill on the local, docker and ssh targets: RTO, harness overhead, ratios to local.

Overhead = RTO minus the time covered by phases up to the RTO moment (as benchmarks/overhead.py); wall =
the whole `spdrill run`, set-up and teardown included. docker needs a Docker engine and builds the sim image
(`spdrill image build-sim`); ssh starts its own sshd on 127.0.0.1 (root, openssh-server). A target that
cannot run here is reported, not measured.

Usage: .venv/bin/python benchmarks/targets.py [--runs 3] [--sectors 64] [--targets local,docker,ssh]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spdrill.demo import make_demo_plan
from spdrill.journal import Outcome, Phase
from spdrill.phases import waiting_time

REQUIREMENTS = "\n[standby.requirements]\ngpu = false\nproof_params = false\n"


@contextmanager
def sshd() -> Iterator[dict[str, str]]:
    """A throwaway sshd on 127.0.0.1 (own host and client keys); yields [target.ssh] options."""
    d = Path(tempfile.mkdtemp(prefix="spdrill-bench-sshd-"))
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    (d / "sshd_config").write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\nUsePAM no\n"
                                   f"AuthorizedKeysFile {d / 'authorized_keys'}\nStrictModes no\n"
                                   f"PidFile {d / 'pid'}\nMaxStartups 100:30:200\nMaxSessions 100\n")
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {(d / 'host.pub').read_text()}")
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")],
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield {"host": "127.0.0.1", "port": str(port), "identity_file": str(d / "client"),
               "known_hosts": str(d / "known_hosts"), "user": os.environ.get("USER", "root")}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(d, ignore_errors=True)


def target_table(kind: str, work: Path, ssh: dict[str, str] | None, image: str) -> str:
    if kind == "local":
        return f'[target]\nkind = "local"\n\n[target.local]\nworkdir = "{work}"\n'
    if kind == "docker":
        return f'[target]\nkind = "docker"\n\n[target.docker]\nworkdir = "{work}"\nimage = "{image}"\n'
    assert ssh is not None
    bindir = subprocess.run([shutil.which("lotus-sim") or "lotus-sim", "bindir"], capture_output=True,
                            text=True, check=True).stdout.strip()
    lines = [f'{k} = {v}' if k == "port" else f'{k} = "{v}"' for k, v in ssh.items()]
    return (f'[target]\nkind = "ssh"\n\n[target.ssh]\nworkdir = "{work}"\nbindir = "{bindir}"\n'
            + "\n".join(lines) + "\n")


def one_drill(plan_text: str, target: str, workdir: Path) -> tuple[float, float, float]:
    """Run `spdrill run` on a plan; return (RTO, overhead, wall) in seconds."""
    workdir.mkdir(parents=True)
    start, end = plan_text.index("[target]"), plan_text.index("[standby]")
    plan = workdir / "plan.toml"
    reports = workdir / "reports"
    text = plan_text[:start] + target + "\n" + plan_text[end:]
    text = re.sub(r"(?ms)^\[standby\.requirements\]\n.*?(?=^\[|\Z)", "", text) + REQUIREMENTS
    plan.write_text(re.sub(r'(?m)^dir = ".*"$', f'dir = "{reports}"', text))
    t0 = time.monotonic()
    spdrill = str(Path(sys.executable).with_name("spdrill"))
    p = subprocess.run([spdrill, "run", "--plan", str(plan)], capture_output=True, text=True, timeout=900)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        tail = " | ".join((p.stdout + p.stderr).strip().splitlines()[-6:])
        raise RuntimeError(f"exit {p.returncode}: {tail}")
    rec = json.loads((reports / "latest" / "drill.json").read_text())
    rto = float(rec["rto_seconds"])
    phases = [Phase(name=x["name"], branch=x["branch"], start=x["start"], end=min(x["end"], rto),
                    outcome=Outcome(x["outcome"])) for x in rec["phases"] if x["start"] < rto]
    return rto, rto - waiting_time(phases), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sectors", type=int, default=64)
    parser.add_argument("--targets", default="local,docker,ssh")
    args = parser.parse_args()
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    kinds = args.targets.split(",")
    base = Path(tempfile.mkdtemp(prefix="spdrill-bench-targets-", dir="/var/tmp"))
    results: dict[str, tuple[float, float, float] | str] = {}
    try:
        plan_text = make_demo_plan(base / "demo", sectors=args.sectors, deadlines=4).read_text()
        image = ""
        if "docker" in kinds:
            try:
                from spdrill.image import build_sim_image

                image = build_sim_image(log=lambda _line: None)
            except Exception as exc:
                results["docker"] = f"not measured: {exc}"
        with sshd() if "ssh" in kinds else _none() as ssh:
            for kind in kinds:
                if kind in results:
                    continue
                samples = []
                try:
                    for i in range(args.runs):
                        table = target_table(kind, base / f"{kind}-{i}" / "run", ssh, image)
                        samples.append(one_drill(plan_text, table, base / f"{kind}-{i}"))
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    results[kind] = f"not measured: {exc}"
                    continue
                results[kind] = tuple(statistics.median(s[j] for s in samples) for j in range(3))  # type: ignore
    finally:
        shutil.rmtree(base, ignore_errors=True)
    local = results.get("local")
    print(f"{'target':8} {'RTO s':>8} {'overhead s':>11} {'wall s':>8} {'RTO/local':>10} {'wall/local':>11}"
          f"   (median of {args.runs}, {args.sectors} sectors, simulated)")
    for kind in kinds:
        r = results.get(kind)
        if not isinstance(r, tuple):
            print(f"{kind:8} {r}")
            continue
        ratio = (f"{r[0] / local[0]:>10.2f} {r[2] / local[2]:>11.2f}" if isinstance(local, tuple) else "")
        print(f"{kind:8} {r[0]:>8.2f} {r[1]:>11.3f} {r[2]:>8.2f} {ratio}")
    return 0 if all(isinstance(r, tuple) for r in results.values()) else 1


@contextmanager
def _none() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    sys.exit(main())
