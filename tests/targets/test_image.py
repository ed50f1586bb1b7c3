"""`spdrill image build-sim`: the simulator image from debootstrap, its labels, reuse, and the CLI entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from spdrill import image

from .conftest import Engine

pytestmark = pytest.mark.integration


def test_sim_image_says_it_is_simulated_and_holds_the_stand_in(docker_engine: Engine, sim_image: str) -> None:
    img = docker_engine.client.images.get(sim_image)
    assert sim_image == image.sim_tag()
    assert img.labels["spdrill.simulated"] == "true"
    assert img.labels[image.DIGEST_LABEL] == image.source_digest(image.project_root())
    out = docker_engine.client.containers.run(
        sim_image, ["sh", "-c", "for p in lotus lotus-miner lotus-worker lotus-sim; do "
                    "command -v $p; done; . /etc/os-release; echo $VERSION_CODENAME"],
        remove=True, user="65534:65534")
    lines = out.decode().split()
    assert lines[:4] == ["/opt/spdrill/bin/lotus", "/opt/spdrill/bin/lotus-miner",
                         "/opt/spdrill/bin/lotus-worker", "/usr/local/bin/lotus-sim"]
    assert lines[-1] == "bookworm"


def test_up_to_date_image_is_reused_and_main_prints_the_tag(sim_image: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert image.main([]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == sim_image and "up to date" in captured.err


def test_source_digest_follows_the_source(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / "src" / "pkg" / "a.py").write_text("A = 1\n")
    before = image.source_digest(tmp_path)
    (tmp_path / "src" / "pkg" / "__pycache__").mkdir()
    (tmp_path / "src" / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"x")
    assert image.source_digest(tmp_path) == before
    (tmp_path / "src" / "pkg" / "a.py").write_text("A = 2\n")
    assert image.source_digest(tmp_path) != before


def test_no_engine_is_exit_code_3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    assert image.main([]) == 3
    assert f"unix://{tmp_path}/no.sock" in capsys.readouterr().err
