"""`spdrill image build-sim`: the simulator image, built with no registry from a debootstrap base.

debootstrap --variant=minbase bookworm → `docker import` (tagged `spdrill-base:bookworm`, reused) → a
build that adds python3, iproute2 and procps (testinfra needs `ss`, `ps`) and this project's source, with
the Lotus stand-in's `lotus`, `lotus-miner` and `lotus-worker` first on PATH. Its labels say
`spdrill.simulated=true`.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spdrill import __version__
from spdrill.errors import CannotRunError, DrillError, UsageError

BASE_TAG = "spdrill-base:bookworm"
SIM_REPO = "spdrill-sim"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DIGEST_LABEL = "spdrill.source-digest"
PACKAGES = ("python3", "python3-cryptography", "python3-zstandard", "iproute2", "procps", "ca-certificates")

DOCKERFILE = """\
FROM {base}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends {packages} \\
 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml /opt/spdrill/pyproject.toml
COPY src /opt/spdrill/src
# The stand-in's launchers live in its bindir; a fixed cache folder keeps them readable by any user.
ENV PYTHONPATH=/opt/spdrill/src XDG_CACHE_HOME=/opt/spdrill/cache
RUN ln -s "$(python3 -m lotus_sim.cli bindir)" /opt/spdrill/bin \\
 && printf '#!/bin/sh\\nexec python3 -m lotus_sim.cli "$@"\\n' > /usr/local/bin/lotus-sim \\
 && chmod 755 /usr/local/bin/lotus-sim && chmod -R a+rX /opt/spdrill
ENV PATH=/opt/spdrill/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
"""

Log = Callable[[str], None]


def project_root() -> Path:
    """The source checkout this module runs from (the image copies its `src/`)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or not (root / "src" / "lotus_sim").is_dir():
        raise UsageError(f"spdrill image build-sim needs a source checkout (pyproject.toml and src/lotus_sim "
                         f"under {root}); run it from the repository")
    return root


def source_digest(root: Path) -> str:
    """SHA-256 over the project's source files, so an image is rebuilt exactly when the source changed."""
    h = hashlib.sha256()
    files = [root / "pyproject.toml", *sorted((root / "src").rglob("*"))]
    for f in files:
        if f.is_file() and "__pycache__" not in f.parts and f.suffix not in (".pyc", ".pyo"):
            h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def sim_tag() -> str:
    return f"{SIM_REPO}:{__version__}"


def connect() -> Any:
    """A Docker SDK client from DOCKER_HOST (as the docker target makes it), with a long build timeout."""
    from spdrill.targets.docker.kit import connect as connect_engine

    return connect_engine(timeout=600)


def build_base(client: Any, *, mirror: str = DEFAULT_MIRROR, log: Log = print) -> str:
    """debootstrap a minbase bookworm and import it as BASE_TAG; needs root and the `debootstrap` program."""
    if shutil.which("debootstrap") is None:
        raise UsageError("debootstrap is not installed; install the Debian package debootstrap (as root)")
    with tempfile.TemporaryDirectory(prefix="spdrill-rootfs-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"debootstrap --variant=minbase bookworm from {mirror}")
        _sh(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror], what="debootstrap")
        tar = Path(tmp) / "rootfs.tar"
        _sh(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tar), "."], what="tar")
        repo, tag = BASE_TAG.split(":")
        log(f"docker import → {BASE_TAG}")
        client.api.import_image_from_file(str(tar), repository=repo, tag=tag)
    return BASE_TAG


def build_sim_image(client: Any | None = None, *, tag: str | None = None, mirror: str = DEFAULT_MIRROR,
                    rebuild: bool = False, log: Log = print) -> str:
    """Build (or reuse, when its source digest matches) the simulator image; returns its tag."""
    import docker.errors

    client = client or connect()
    root = project_root()
    tag = tag or sim_tag()
    digest = source_digest(root)
    if not rebuild:
        try:
            if client.images.get(tag).labels.get(DIGEST_LABEL) == digest:
                log(f"{tag} is up to date")
                return tag
        except docker.errors.ImageNotFound:
            pass
    try:
        client.images.get(BASE_TAG)
        if rebuild:
            raise docker.errors.ImageNotFound("rebuild asked")
    except docker.errors.ImageNotFound:
        build_base(client, mirror=mirror, log=log)
    with tempfile.TemporaryDirectory(prefix="spdrill-image-") as ctx:
        shutil.copy2(root / "pyproject.toml", Path(ctx) / "pyproject.toml")
        shutil.copytree(root / "src", Path(ctx) / "src",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        (Path(ctx) / "Dockerfile").write_text(DOCKERFILE.format(base=BASE_TAG, packages=" ".join(PACKAGES)))
        labels = {"org.opencontainers.image.title": "spdrill simulator (Lotus stand-in, NOT real Lotus)",
                  "org.opencontainers.image.version": __version__, "spdrill.simulated": "true",
                  "spdrill.base": "debootstrap --variant=minbase bookworm", DIGEST_LABEL: digest}
        log(f"docker build → {tag}")
        try:
            client.images.build(path=ctx, tag=tag, labels=labels, rm=True, forcerm=True, pull=False)
        except docker.errors.BuildError as exc:
            lines = [str(c.get("stream", c.get("error", ""))).strip() for c in list(exc.build_log)[-5:]]
            tail = " | ".join(lines)
            raise CannotRunError(f"docker build of {tag} failed: {exc.msg}: {tail}") from None
    return tag


def _sh(argv: list[str], *, what: str) -> None:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
    except subprocess.TimeoutExpired:
        raise CannotRunError(f"{what} took over 30 minutes; check the network and the mirror") from None
    if p.returncode != 0:
        raise CannotRunError(f"{what} failed (exit {p.returncode}): {p.stderr.strip()[-400:]}")


def main(argv: Sequence[str] | None = None) -> int:
    """`spdrill image build-sim [--tag T] [--mirror URL] [--rebuild]`: print the tag, exit as DrillError."""
    p = argparse.ArgumentParser(prog="spdrill image build-sim", description="Build the simulator image "
                                "(the Lotus stand-in) from debootstrap, with no registry.")
    p.add_argument("--tag", default=sim_tag(), help=f"image tag (default {sim_tag()})")
    p.add_argument("--mirror", default=DEFAULT_MIRROR, help="Debian mirror for debootstrap")
    p.add_argument("--rebuild", action="store_true", help="rebuild the base and the image even if up to date")
    args = p.parse_args(argv)
    try:
        tag = build_sim_image(tag=args.tag, mirror=args.mirror, rebuild=args.rebuild,
                              log=lambda line: print(line, file=sys.stderr))
    except DrillError as exc:
        print(f"spdrill image build-sim: {exc}", file=sys.stderr)
        return exc.exit_code
    print(tag)
    return 0
