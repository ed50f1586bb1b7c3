"""Run the host readiness checks once against a real GPU host's `nvidia-smi` (not collected by pytest).

Usage on the GPU host, in the repository root: PYTHONPATH=src python3 tests/hostcheck/live_gpu_check.py [OUT]
Prints each verdict; with OUT, saves the raw nvidia-smi outputs there for the project's notes. Uses
pytest-testinfra's local backend when installed, else a plain subprocess shell with the same `run` contract.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from spdrill import hostcheck
from spdrill.hostcheck import nvidia


class _Result:
    def __init__(self, rc: int, stdout: str, stderr: str) -> None:
        self.rc, self.stdout, self.stderr = rc, stdout, stderr


class _Shell:
    """testinfra's `run(command % quoted args)` contract over /bin/sh."""

    def run(self, command: str, *args: str) -> _Result:
        p = subprocess.run(command % tuple(shlex.quote(a) for a in args), shell=True, capture_output=True,
                           text=True, timeout=600)
        return _Result(p.returncode, p.stdout, p.stderr)


def _host() -> Any:
    try:
        import testinfra

        return testinfra.get_host("local://")
    except ImportError:
        return _Shell()


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else None
    host = _host()
    commands = (("nvidia-smi-query.csv", nvidia.QUERY_COMMAND), ("nvidia-smi-q.xml", nvidia.XML_COMMAND),
                ("nvidia-smi-L.txt", "nvidia-smi -L"), ("nvidia-smi.txt", "nvidia-smi"))
    for name, cmd in commands:
        r = host.run(cmd)
        print(f"$ {cmd}  (exit {r.rc}, {len(r.stdout)} bytes)")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / name).write_text(r.stdout)
    report = hostcheck.gpu_report(host)
    xml = nvidia.parse_query_xml(host.run(nvidia.XML_COMMAND).stdout)
    listed = nvidia.parse_list(host.run("nvidia-smi -L").stdout)
    agree = [(g.index, g.name, g.uuid) for g in report.gpus] == listed and len(xml.gpus) == len(report.gpus)
    print(f"CSV, XML and -L agree on the GPUs: {agree}")
    for g in report.gpus:
        print(f"GPU {g.index}: {g.name} {g.uuid} total={g.memory_total} free={g.memory_free} "
              f"bus={g.pci_bus_id} compute_mode={g.compute_mode}")
    verdicts = {
        "gpu present": hostcheck.judge_gpu_present(report),
        "gpu model H100": hostcheck.judge_gpu_model(report, "H100"),
        "gpu free memory >= 8.5 GiB": hostcheck.judge_gpu_memory(report, 8 * 2**30 + 2**29),
        "driver": hostcheck.judge_driver(report),
        "ram >= 64 GiB": hostcheck.judge_ram(hostcheck.host_memory(host), 64 * 2**30),
    }
    cache = hostcheck.param_cache_dir(host, {})
    params = hostcheck.proof_params(host, hostcheck.load_manifest(), 2048, cache)
    for name, v in verdicts.items():
        print(f"{'PASS' if v.ok else 'FAIL'}  {name}: {v.detail}")
    print(f"{'PASS' if params.ok else 'FAIL'}  proof parameters (2KiB): {hostcheck.describe(params)}")
    return 0 if agree and all(v.ok for v in list(verdicts.values())[:4]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
