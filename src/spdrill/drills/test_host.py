"""Standby host: a usable GPU of the right model with enough free memory, the proof parameters, enough RAM.

Each check runs on the target's host (the worker container for docker, the GPU host for ssh) through
pytest-testinfra. A check the plan's [standby.requirements] turns off is skipped, not counted.
"""

from typing import Any

import pytest

from spdrill import hostcheck
from spdrill.drill import Drill
from spdrill.errors import DrillError
from spdrill.hostcheck.memory import gib
from spdrill.hostcheck.params import size_name
from spdrill.plan import Plan

_gpu_reports: dict[str, Any] = {}


@pytest.fixture()
def needs_gpu(plan: Plan) -> None:
    if not plan.standby.requirements.gpu:
        pytest.skip("[standby.requirements] gpu = false: the standby host's GPU is not checked")


@pytest.fixture()
def needs_gpu_model(plan: Plan, needs_gpu: None) -> None:
    if not plan.standby.requirements.gpu_model:
        pytest.skip("[standby.requirements] gpu_model is not set: any GPU model will do")


@pytest.fixture()
def needs_params(plan: Plan) -> None:
    if not plan.standby.requirements.proof_params:
        pytest.skip("[standby.requirements] proof_params = false")


@pytest.fixture()
def needs_ram(plan: Plan) -> None:
    if not plan.standby.requirements.ram:
        pytest.skip("[standby.requirements] ram is not set")


def _host(drill: Drill) -> Any:
    """The testinfra Host of the standby, once the worker has been started there."""
    __tracebackhide__ = True
    drill.stage("start-worker")
    try:
        return drill.target.host()
    except DrillError as exc:
        raise AssertionError(f"cannot reach the standby host: {exc}") from None


def _gpus(drill: Drill) -> hostcheck.GpuReport:
    __tracebackhide__ = True
    if drill.id not in _gpu_reports:
        try:
            _gpu_reports[drill.id] = hostcheck.gpu_report(_host(drill))
        except DrillError as exc:
            _gpu_reports[drill.id] = exc
    found = _gpu_reports[drill.id]
    if isinstance(found, DrillError):
        raise AssertionError(str(found))
    assert isinstance(found, hostcheck.GpuReport)
    return found


def _ok(verdict: hostcheck.Verdict) -> None:
    __tracebackhide__ = True
    assert verdict.ok, verdict.detail


@pytest.mark.readiness
@pytest.mark.usefixtures("needs_gpu")
def test_gpu_present(drill: Drill) -> None:
    """The standby host has a usable NVIDIA GPU for the WindowPoSt worker."""
    verdict = hostcheck.judge_gpu_present(_gpus(drill))
    drill.journal.fact("gpus", verdict.detail)
    _ok(verdict)


@pytest.mark.readiness
@pytest.mark.usefixtures("needs_gpu_model")
def test_gpu_model(drill: Drill) -> None:
    """The GPU is the model the plan asks for."""
    _ok(hostcheck.judge_gpu_model(_gpus(drill), drill.plan.standby.requirements.gpu_model))


@pytest.mark.readiness
@pytest.mark.usefixtures("needs_gpu")
def test_gpu_free_memory(drill: Drill) -> None:
    """One GPU has at least the plan's free memory (Lotus docs: about 8.5 GiB for WindowPoSt)."""
    _ok(hostcheck.judge_gpu_memory(_gpus(drill), drill.plan.standby.requirements.gpu_free_memory))


@pytest.mark.readiness
@pytest.mark.usefixtures("needs_gpu")
def test_gpu_driver(drill: Drill) -> None:
    """The NVIDIA driver reports its version (recorded in the evidence)."""
    report = _gpus(drill)
    verdict = hostcheck.judge_driver(report)
    drill.journal.fact("gpu_driver", report.driver_version or None)
    drill.journal.fact("cuda_version", report.cuda_version or None)
    _ok(verdict)


@pytest.mark.readiness
@pytest.mark.usefixtures("needs_params")
def test_proof_parameters(drill: Drill) -> None:
    """Every proof-parameter file of the plan's sector size is in the standby's parameter cache."""
    req = drill.plan.standby.requirements
    host = _host(drill)
    cache = hostcheck.param_cache_dir(host, drill.plan.standby.env)
    report = hostcheck.proof_params(host, hostcheck.load_manifest(), req.sector_size, cache,
                                    verify_digests=req.verify_param_digests)
    drill.journal.fact("proof_parameters", hostcheck.describe(report))
    advice = f"fetch them on the standby host with `lotus fetch-params {size_name(req.sector_size)}`"
    _ok(hostcheck.Verdict(report.ok, f"{hostcheck.describe(report)}; {advice}"))


@pytest.mark.readiness
@pytest.mark.usefixtures("needs_ram")
def test_ram(drill: Drill) -> None:
    """The standby host (or container) has at least the plan's RAM."""
    need = drill.plan.standby.requirements.ram
    try:
        memory = hostcheck.host_memory(_host(drill))
    except DrillError as exc:
        raise AssertionError(str(exc)) from None
    drill.journal.fact("ram", gib(memory.usable))
    _ok(hostcheck.judge_ram(memory, need))
