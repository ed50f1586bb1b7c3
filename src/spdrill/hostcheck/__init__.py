"""Readiness of a standby host: GPU (nvidia-smi), proof parameters, RAM; parsers and verdicts, no pytest."""

from __future__ import annotations

from spdrill.hostcheck.checks import (
    NoGpuDriver,
    Verdict,
    gpu_report,
    host_memory,
    judge_driver,
    judge_gpu_memory,
    judge_gpu_model,
    judge_gpu_present,
    judge_ram,
    param_cache_dir,
    proof_params,
)
from spdrill.hostcheck.memory import Memory, parse_memory
from spdrill.hostcheck.nvidia import Gpu, GpuReport, parse_list, parse_query_csv, parse_query_xml
from spdrill.hostcheck.params import Manifest, ParamFile, ParamsReport, describe, load_manifest

__all__ = [
    "Gpu", "GpuReport", "Manifest", "Memory", "NoGpuDriver", "ParamFile", "ParamsReport",
    "Verdict", "describe", "gpu_report", "judge_driver", "judge_gpu_memory", "judge_gpu_model",
    "judge_gpu_present", "judge_ram", "load_manifest", "host_memory", "param_cache_dir", "parse_list",
    "parse_memory", "parse_query_csv", "parse_query_xml", "proof_params",
]
