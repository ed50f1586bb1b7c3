"""GPU and RAM verdicts, and gathering them through a real testinfra Host (this machine has no GPU)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import testinfra

from spdrill.hostcheck import checks, nvidia
from spdrill.hostcheck import memory as memory

DATA = Path(__file__).parent / "data"
GIB = 2**30


@pytest.fixture()
def h100() -> nvidia.GpuReport:
    return nvidia.parse_query_csv((DATA / "nvidia-smi-query.csv").read_text())


def test_h100_passes_every_gpu_check(h100: nvidia.GpuReport) -> None:
    assert checks.judge_gpu_present(h100).ok
    assert checks.judge_gpu_model(h100, "h100").ok
    assert checks.judge_gpu_memory(h100, int(8.5 * GIB)).ok
    assert checks.judge_driver(h100) == checks.Verdict(True, "NVIDIA driver 580.159.04")


def test_gpu_checks_fail_on_the_faults_they_guard(h100: nvidia.GpuReport) -> None:
    assert not checks.judge_gpu_present(replace(h100, gpus=())).ok
    prohibited = replace(h100, gpus=(replace(h100.gpus[0], compute_mode="Prohibited"),))
    assert "Prohibited" in checks.judge_gpu_present(prohibited).detail
    assert not checks.judge_gpu_model(h100, "A100").ok
    busy = replace(h100, gpus=(replace(h100.gpus[0], memory_free=4 * GIB),))
    verdict = checks.judge_gpu_memory(busy, int(8.5 * GIB))
    assert not verdict.ok and "4.0 GiB free, need 8.5 GiB" in verdict.detail
    assert not checks.judge_driver(replace(h100, driver_version="")).ok


def test_gpu_report_without_nvidia_smi_says_no_driver() -> None:
    host = testinfra.get_host("local://")
    if host.run("command -v nvidia-smi").rc == 0:
        pytest.skip("this machine has nvidia-smi; the no-driver path needs a host without it")
    with pytest.raises(checks.NoGpuDriver, match="nvidia-smi is not installed"):
        checks.gpu_report(host)


def test_ram_of_this_host_through_testinfra() -> None:
    m = checks.host_memory(testinfra.get_host("local://"))
    assert m.total > 256 * 2**20 and 0 < m.available <= m.total
    assert checks.judge_ram(m, 2**20).ok
    too_much = checks.judge_ram(m, m.usable + 1)
    assert not too_much.ok and "[standby.requirements] ram" in too_much.detail


def test_cgroup_limit_caps_usable_ram() -> None:
    text = "MemTotal:       16384000 kB\nMemAvailable:    8000000 kB\n---\n4294967296\n"
    m = memory.parse_memory(text)
    assert (m.total, m.limit, m.usable) == (16384000 * 1024, 4 * GIB, 4 * GIB)
    assert "cgroup limit 4.0 GiB" in checks.judge_ram(m, 8 * GIB).detail
    assert memory.parse_memory(text.replace("4294967296", "max")).limit is None
    assert memory.parse_memory(text.replace("4294967296", "9223372036854771712")).limit is None
