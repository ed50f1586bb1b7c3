"""Parsers for `nvidia-smi --query-gpu=… --format=csv` and `nvidia-smi -q -x`: the GPUs of a host."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from spdrill.errors import InputError

# The fields the GPU check asks for (names as `nvidia-smi --help-query-gpu` lists them).
QUERY_FIELDS = ("index", "name", "uuid", "memory.total", "memory.used", "memory.free", "driver_version",
                "pci.bus_id", "compute_mode")
QUERY_COMMAND = f"nvidia-smi --query-gpu={','.join(QUERY_FIELDS)} --format=csv"
XML_COMMAND = "nvidia-smi -q -x"

_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(KiB|MiB|GiB|B)?\s*$")
_BYTES = {None: 2**20, "B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}  # nounits output is in MiB
_MISSING = {"", "[N/A]", "N/A", "[Not Supported]", "Not Supported", "[Unknown Error]"}


@dataclass(frozen=True)
class Gpu:
    """One GPU as nvidia-smi reports it; memory in bytes, None where the driver does not say."""

    index: int
    name: str
    uuid: str
    memory_total: int | None
    memory_used: int | None
    memory_free: int | None
    pci_bus_id: str = ""
    compute_mode: str = ""

    @property
    def usable(self) -> bool:
        """False when the compute mode forbids CUDA contexts (a PoSt prover could not use it)."""
        return self.compute_mode != "Prohibited"


@dataclass(frozen=True)
class GpuReport:
    """What one nvidia-smi call says about a host: its driver and its GPUs."""

    driver_version: str
    cuda_version: str
    gpus: tuple[Gpu, ...]


def memory_bytes(text: str, *, what: str) -> int | None:
    """Bytes for "81079 MiB" (or a bare MiB number); None for "[N/A]"; InputError naming `what` otherwise."""
    text = text.strip()
    if text in _MISSING:
        return None
    m = _UNIT.match(text)
    if not m:
        raise InputError(f"nvidia-smi: {what}: expected a size like \"81079 MiB\", found {text!r}")
    return int(float(m.group(1)) * _BYTES[m.group(2)])


def _value(text: str) -> str:
    text = text.strip()
    return "" if text in _MISSING else text


def parse_query_csv(text: str) -> GpuReport:
    """Parse `nvidia-smi --query-gpu=… --format=csv` (with its header line); any field subset, any order."""
    rows = list(csv.reader(io.StringIO(text.strip()), skipinitialspace=True))
    if not rows or not rows[0]:
        raise InputError("nvidia-smi --query-gpu printed nothing; expected a CSV header line")
    # Header cells carry units ("memory.free [MiB]"): the field name is the part before the bracket.
    header = [cell.split(" [", 1)[0].strip() for cell in rows[0]]
    if "name" not in header:
        raise InputError(f"nvidia-smi --query-gpu: expected a header naming 'name', found {rows[0]!r}; "
                         "run it with --format=csv (not noheader)")
    gpus = []
    drivers = set()
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"nvidia-smi --query-gpu: line {n} has {len(row)} fields, the header "
                             f"{len(header)}")
        f = dict(zip(header, row, strict=True))
        drivers.add(_value(f.get("driver_version", "")))
        gpus.append(Gpu(
            index=int(f.get("index", n - 2)),
            name=_value(f["name"]),
            uuid=_value(f.get("uuid", "")),
            memory_total=memory_bytes(f.get("memory.total", ""), what=f"GPU {n - 2} memory.total"),
            memory_used=memory_bytes(f.get("memory.used", ""), what=f"GPU {n - 2} memory.used"),
            memory_free=memory_bytes(f.get("memory.free", ""), what=f"GPU {n - 2} memory.free"),
            pci_bus_id=_value(f.get("pci.bus_id", "")),
            compute_mode=_value(f.get("compute_mode", "")),
        ))
    drivers.discard("")
    return GpuReport(driver_version=", ".join(sorted(drivers)), cuda_version="", gpus=tuple(gpus))


def _text(node: ET.Element, path: str) -> str:
    found = node.find(path)
    return "" if found is None or found.text is None else _value(found.text)


def _fb(gpu: ET.Element, i: int, field: str) -> int | None:
    return memory_bytes(_text(gpu, f"fb_memory_usage/{field}"), what=f"GPU {i} fb_memory_usage/{field}")


def parse_query_xml(text: str) -> GpuReport:
    """Parse `nvidia-smi -q -x` (its DOCTYPE names a DTD that is never fetched)."""
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise InputError(f"nvidia-smi -q -x: not well-formed XML ({exc})") from None
    if root.tag != "nvidia_smi_log":
        raise InputError(f"nvidia-smi -q -x: expected an <nvidia_smi_log> document, found <{root.tag}>")
    gpus = []
    for i, g in enumerate(root.findall("gpu")):
        gpus.append(Gpu(
            index=int(_text(g, "minor_number") or i),
            name=_text(g, "product_name"),
            uuid=_text(g, "uuid"),
            memory_total=_fb(g, i, "total"),
            memory_used=_fb(g, i, "used"),
            memory_free=_fb(g, i, "free"),
            pci_bus_id=g.get("id", ""),
            compute_mode=_text(g, "compute_mode"),
        ))
    attached = _text(root, "attached_gpus")
    if attached.isdigit() and int(attached) != len(gpus):
        raise InputError(f"nvidia-smi -q -x: <attached_gpus> says {attached}, but {len(gpus)} <gpu> elements "
                         "were found; the output is truncated")
    return GpuReport(driver_version=_text(root, "driver_version"), cuda_version=_text(root, "cuda_version"),
                     gpus=tuple(gpus))


def parse_list(text: str) -> list[tuple[int, str, str]]:
    """Parse `nvidia-smi -L`: (index, name, uuid) per GPU line; MIG device lines are skipped."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^GPU (\d+): (.+?) \(UUID: (GPU-[0-9a-fA-F-]+)\)\s*$", line)
        if m:
            out.append((int(m.group(1)), m.group(2), m.group(3)))
    return out
