"""nvidia-smi parsers on the real outputs of an H100 host (tests/hostcheck/data, copied from ../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spdrill.errors import InputError
from spdrill.hostcheck import nvidia

DATA = Path(__file__).parent / "data"
MIB = 2**20


def test_query_csv_of_the_h100_host() -> None:
    report = nvidia.parse_query_csv((DATA / "nvidia-smi-query.csv").read_text())
    assert report.driver_version == "580.159.04"
    (gpu,) = report.gpus
    assert (gpu.index, gpu.name) == (0, "NVIDIA H100 80GB HBM3")
    assert gpu.uuid == "GPU-bfeada00-6c21-770d-eaba-202ebc0c5734"
    assert (gpu.memory_total, gpu.memory_used, gpu.memory_free) == (81559 * MIB, 0, 81079 * MIB)
    assert gpu.pci_bus_id == "00000000:00:06.0"
    assert gpu.compute_mode == "Default" and gpu.usable


@pytest.mark.parametrize("folder", [DATA, DATA / "live-h100"], ids=["shared-fixture", "lent-h100"])
def test_query_xml_of_real_h100_hosts_agrees_with_the_csv_and_list(folder: Path) -> None:
    xml = nvidia.parse_query_xml((folder / "nvidia-smi-q.xml").read_text())
    csv = nvidia.parse_query_csv((folder / "nvidia-smi-query.csv").read_text())
    assert (xml.driver_version, xml.cuda_version) == ("580.159.04", "13.0")
    assert xml.gpus == csv.gpus
    listed = nvidia.parse_list((folder / "nvidia-smi-L.txt").read_text())
    assert listed == [(g.index, g.name, g.uuid) for g in csv.gpus]
    assert csv.gpus[0].memory_free == 81079 * MIB and csv.gpus[0].usable


def test_list_of_the_h100_host() -> None:
    assert nvidia.parse_list((DATA / "nvidia-smi-L.txt").read_text()) == [
        (0, "NVIDIA H100 80GB HBM3", "GPU-bfeada00-6c21-770d-eaba-202ebc0c5734")]


def test_query_csv_reads_fields_by_header_in_any_order_and_na_values() -> None:
    text = ("name, memory.free [MiB], index, compute_mode\n"
            "NVIDIA A100-SXM4-40GB, [N/A], 1, Prohibited\n"
            "NVIDIA GeForce RTX 3090, 24000 MiB, 0, Default\n")
    a100, rtx = nvidia.parse_query_csv(text).gpus
    assert (a100.index, a100.memory_free, a100.usable) == (1, None, False)
    assert (rtx.index, rtx.memory_free, rtx.usable) == (0, 24000 * MIB, True)


def test_query_csv_without_gpus_is_an_empty_report() -> None:
    assert nvidia.parse_query_csv("index, name, memory.free [MiB]\n").gpus == ()


@pytest.mark.parametrize("text, words", [
    ("", "printed nothing"),
    ("0, NVIDIA H100, 80 MiB\n", "header naming 'name'"),
    ("index, name, memory.free [MiB]\n0, NVIDIA H100\n", "line 2 has 2 fields"),
    ("index, name, memory.free [MiB]\n0, NVIDIA H100, lots\n", "memory.free"),
])
def test_query_csv_errors_name_the_problem(text: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        nvidia.parse_query_csv(text)


def test_query_xml_rejects_truncated_and_foreign_documents() -> None:
    full = (DATA / "nvidia-smi-q.xml").read_text()
    with pytest.raises(InputError, match="not well-formed"):
        nvidia.parse_query_xml(full[: len(full) // 2])
    with pytest.raises(InputError, match="<nvidia_smi_log>"):
        nvidia.parse_query_xml("<html/>")
    two = full.replace("<attached_gpus>1</attached_gpus>", "<attached_gpus>2</attached_gpus>")
    with pytest.raises(InputError, match="attached_gpus"):
        nvidia.parse_query_xml(two)
