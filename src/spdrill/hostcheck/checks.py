"""Readiness facts of a standby host, gathered through a pytest-testinfra Host, and pure verdicts on them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from spdrill.errors import InputError
from spdrill.hostcheck import memory as mem
from spdrill.hostcheck import nvidia
from spdrill.hostcheck.params import (
    CACHE_ENV,
    DEFAULT_CACHE,
    Manifest,
    ParamsReport,
    judge_digests,
    judge_listing,
    parse_b2sum,
    parse_listing,
)
from spdrill.targets.base import Host

NOT_FOUND = 127  # the shell's "command not found"


@dataclass(frozen=True)
class Verdict:
    """One readiness finding: passed or not, and the sentence an operator reads."""

    ok: bool
    detail: str


class NoGpuDriver(InputError):
    """nvidia-smi is missing or failed on the host."""


def gpu_report(host: Host) -> nvidia.GpuReport:
    """The host's GPUs from `nvidia-smi --query-gpu`, with the CUDA version from `nvidia-smi -q -x`."""
    r = host.run(nvidia.QUERY_COMMAND)
    if r.rc == NOT_FOUND:
        raise NoGpuDriver("nvidia-smi is not installed on the standby host: no NVIDIA driver, so no GPU "
                          "for WindowPoSt; install the driver (and the NVIDIA container toolkit for "
                          "docker), or set [standby.requirements] gpu = false to prove on CPU")
    if r.rc != 0:
        tail = (r.stderr or r.stdout).strip()[-300:]
        raise NoGpuDriver(f"nvidia-smi failed (exit {r.rc}): {tail}; check the NVIDIA driver on the host")
    report = nvidia.parse_query_csv(r.stdout)
    x = host.run(nvidia.XML_COMMAND)
    if x.rc == 0:
        detail = nvidia.parse_query_xml(x.stdout)
        driver = report.driver_version or detail.driver_version
        report = nvidia.GpuReport(driver, detail.cuda_version, report.gpus)
    return report


def judge_gpu_present(report: nvidia.GpuReport) -> Verdict:
    """At least one GPU whose compute mode lets a prover use it."""
    usable = [g for g in report.gpus if g.usable]
    if not report.gpus:
        return Verdict(False, "nvidia-smi lists no GPU on the standby host")
    if not usable:
        return Verdict(False, f"{len(report.gpus)} GPU(s), all in compute mode Prohibited: no CUDA context "
                       "can be made; set the compute mode to Default (nvidia-smi -c DEFAULT)")
    names = ", ".join(f"{g.index}: {g.name}" for g in usable)
    return Verdict(True, f"{len(usable)} usable GPU(s) ({names})")


def judge_gpu_model(report: nvidia.GpuReport, model: str) -> Verdict:
    """At least one usable GPU whose name contains `model`, ignoring case ("H100" matches the full name)."""
    match = [g for g in report.gpus if g.usable and model.lower() in g.name.lower()]
    if match:
        return Verdict(True, f"GPU {match[0].index} is {match[0].name}")
    seen = ", ".join(g.name for g in report.gpus) or "none"
    return Verdict(False, f"no GPU matching {model!r} (found: {seen}); use the host the plan names or change "
                   "[standby.requirements] gpu_model")


def judge_gpu_memory(report: nvidia.GpuReport, need: int) -> Verdict:
    """A single usable GPU must have `need` bytes free: one WindowPoSt runs on one GPU."""
    free = [(g.memory_free or 0, g) for g in report.gpus if g.usable]
    if not free:
        return Verdict(False, "no usable GPU")
    best, g = max(free, key=lambda t: t[0])
    if best >= need:
        return Verdict(True, f"GPU {g.index} has {mem.gib(best)} free (need {mem.gib(need)})")
    return Verdict(False, f"the GPU with most free memory (GPU {g.index}, {g.name}) has {mem.gib(best)} "
                   f"free, need {mem.gib(need)}: stop what else runs on it (see nvidia-smi) or lower "
                   "[standby.requirements] gpu_free_memory")


def judge_driver(report: nvidia.GpuReport) -> Verdict:
    """The driver says its version (and CUDA's, from the XML report)."""
    if not report.driver_version:
        return Verdict(False, "nvidia-smi reports no driver version")
    cuda = f", CUDA {report.cuda_version}" if report.cuda_version else ""
    return Verdict(True, f"NVIDIA driver {report.driver_version}{cuda}")


def host_memory(host: Host) -> mem.Memory:
    """RAM of the host (capped by its cgroup limit)."""
    r = host.run(mem.COMMAND)
    if r.rc != 0:
        raise InputError(f"cannot read /proc/meminfo on the standby host (exit {r.rc})")
    return mem.parse_memory(r.stdout)


def judge_ram(m: mem.Memory, need: int) -> Verdict:
    """Usable RAM (MemTotal capped by the cgroup limit) is at least `need` bytes."""
    capped = f" (cgroup limit {mem.gib(m.limit)})" if m.limit is not None and m.limit < m.total else ""
    if m.usable >= need:
        return Verdict(True, f"{mem.gib(m.usable)} of RAM{capped}, need {mem.gib(need)}")
    return Verdict(False, f"{mem.gib(m.usable)} of RAM{capped}, need {mem.gib(need)}: use a bigger standby "
                   "host, raise the container memory limit ([target.docker] memory), or lower "
                   "[standby.requirements] ram")


def param_cache_dir(host: Host, standby_env: Mapping[str, str]) -> str:
    """Where the standby looks for parameters: the plan's env, else the host's env, else Lotus's default."""
    if standby_env.get(CACHE_ENV):
        return standby_env[CACHE_ENV]
    r = host.run(f"printenv {CACHE_ENV}")
    return r.stdout.strip() if r.rc == 0 and r.stdout.strip() else DEFAULT_CACHE


def proof_params(host: Host, manifest: Manifest, sector_size: int, cache_dir: str, *,
                 verify_digests: bool = False) -> ParamsReport:
    """List the cache on the host and judge it; with `verify_digests`, b2sum each required file there."""
    r = host.run("find %s -maxdepth 1 -type f -printf '%%f\\t%%s\\n'", cache_dir)
    listing = parse_listing(r.stdout) if r.rc == 0 else {}
    report = judge_listing(manifest, sector_size, cache_dir, listing)
    if verify_digests:
        present = [f"{cache_dir}/{f.name}" for f in report.required if listing.get(f.name)]
        digests: dict[str, str] = {}
        if present:
            s = host.run("b2sum " + " ".join(["%s"] * len(present)), *present)
            if s.rc == NOT_FOUND:
                raise InputError("b2sum (GNU coreutils) is not installed on the standby host; install "
                                 "coreutils or set [standby.requirements] verify_param_digests = false")
            digests = parse_b2sum(s.stdout)
        report = judge_digests(report, digests)
    return report
