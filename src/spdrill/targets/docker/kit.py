"""Pieces of the docker target that need no running drill: the drill network, API flags, images, reaping.

Options live in `options`, reaching the engine in `remote`; both are re-exported here.
"""

from __future__ import annotations

import ipaddress
import os
import random
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from spdrill.errors import CannotRunError, TargetError
from spdrill.targets.docker.options import DEFAULT_IMAGE as DEFAULT_IMAGE
from spdrill.targets.docker.options import ROLES as ROLES
from spdrill.targets.docker.options import DockerOptions as DockerOptions
from spdrill.targets.docker.options import parse_options as parse_options
from spdrill.targets.docker.options import restore_mode as restore_mode
from spdrill.targets.docker.remote import connect as connect
from spdrill.targets.limits import LOTUS_WORKER_NOFILE

LABEL = "spdrill.drill"
OWNER_LABEL = "spdrill.owner"
ROLE_LABEL = "spdrill.role"
FOLDER_LABEL = "spdrill.folder"  # on a restore helper: the drill folder it made on the engine's host
HOST_ROOT = "/host"  # where a restore helper sees the engine host's /
PARAMS_IN_CONTAINER = "/var/tmp/filecoin-proof-parameters"  # FIL_PROOFS_PARAMETER_CACHE of the official image
# Fixed addresses in the drill subnet: a role must know its peer's address before that peer starts.
ROLE_HOST = {"daemon": 10, "miner": 11, "worker": 12}
PROGRAM_ROLE = {"lotus": "daemon", "lotus-miner": "miner", "lotus-worker": "worker"}
# Real Lotus binds 127.0.0.1 whenever `--api`/`--miner-api` is given (cmd/lotus/daemon.go `RpcServer`), so
# in a container the flag is dropped and LOTUS_API_LISTENADDRESS ([API] ListenAddress) says where to listen.
API_FLAGS = {"daemon": "--api", "miner": "--miner-api"}
SUBNET_POOL = ipaddress.ip_network("10.213.0.0/16")

def device_requests(gpus: str | int | tuple[str, ...]) -> list[Any]:
    """docker-py DeviceRequests for the NVIDIA runtime (`--gpus`), or none."""
    from docker.types import DeviceRequest

    caps = [["gpu", "compute", "utility"]]  # utility: nvidia-smi inside the container for the GPU checks
    if gpus == "none":
        return []
    if gpus == "all":
        return [DeviceRequest(count=-1, capabilities=caps)]
    if isinstance(gpus, int):
        return [DeviceRequest(count=gpus, capabilities=caps)]
    return [DeviceRequest(device_ids=list(gpus), capabilities=caps)]


def nofile_ulimits() -> list[Any]:
    """docker-py Ulimits giving a role the open-files limit lotus-worker insists on (it never raises its own)."""
    from docker.types import Ulimit

    # Lotus cli/worker/worker.go:309-318 exits below build/buildconstants/limits.go:5 MinerFDLimit = 100 000.
    n = LOTUS_WORKER_NOFILE
    return [Ulimit(name="nofile", soft=n, hard=n)]


def container_argv(role: str, argv: Sequence[str], ip: str, port: int) -> tuple[list[str], dict[str, str]]:
    """Drop the API port flag that would bind 127.0.0.1 and say the listen address through the env instead."""
    flag = API_FLAGS.get(role)
    if flag is None:
        return list(argv), {}
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == flag:
            skip = True
            continue
        if arg.startswith(flag + "="):
            continue
        out.append(arg)
    return out, {"LOTUS_API_LISTENADDRESS": f"/ip4/{ip}/tcp/{port}/http"}


def ensure_image(client: Any, image: str, pull: str) -> None:
    """Make sure the engine has `image`, pulling it as the plan's `pull` allows (never the sim image)."""
    import docker.errors

    if pull != "always":
        try:
            client.images.get(image)
            return
        except docker.errors.ImageNotFound:
            if pull == "never" or image.startswith("spdrill-sim:"):
                raise TargetError(f"image {image} is not on the Docker engine; build it with `spdrill "
                                  "image build-sim` (simulator) or `docker pull` it, or set [target.docker] "
                                  "image") from None
    try:
        client.images.pull(image)
    except docker.errors.APIError as exc:
        raise TargetError(f"cannot pull {image}: {exc.explanation or exc}; pull it by hand or set "
                          "[target.docker] pull = \"never\" with a local image") from None


def pick_subnet(client: Any, wanted: str = "", *, rng: random.Random | None = None) -> ipaddress.IPv4Network:
    """A random free /24 of SUBNET_POOL (or the plan's own subnet).

    Random, not the lowest free one: drills starting at the same moment would all pick the lowest, and
    the engine lists a network only once it exists.
    """
    if wanted:
        return ipaddress.IPv4Network(wanted)
    used = []
    for net in client.networks.list():
        for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
            try:
                used.append(ipaddress.ip_network(cfg.get("Subnet", ""), strict=False))
            except ValueError:
                continue
    free = [c for c in SUBNET_POOL.subnets(new_prefix=24) if not any(c.overlaps(u) for u in used)]
    if free:
        return (rng or random.SystemRandom()).choice(free)  # type: ignore[return-value]
    raise TargetError(f"every /24 of {SUBNET_POOL} is used by a Docker network; set [target.docker] subnet")


def create_network(client: Any, drill_id: str, labels: dict[str, str],
                   wanted: str) -> tuple[Any, ipaddress.IPv4Network]:
    """The drill's bridge network in a free /24 (or the plan's subnet), retried when another drill took it."""
    import docker.errors
    from docker.types import IPAMConfig, IPAMPool

    for _ in range(8):  # another drill may take the same free subnet between our look and our create
        subnet = pick_subnet(client, wanted)
        # One-shot containers get addresses from the upper half; roles keep their fixed low ones.
        upper = list(subnet.subnets(prefixlen_diff=1))[1]
        pool = IPAMPool(subnet=str(subnet), iprange=str(upper), gateway=str(subnet.network_address + 1))
        try:
            network = client.networks.create(f"spdrill-{drill_id}", driver="bridge",
                                             ipam=IPAMConfig(pool_configs=[pool]), labels=dict(labels),
                                             check_duplicate=True)
            return network, subnet
        except docker.errors.APIError as exc:
            if wanted or "overlap" not in str(exc).lower():
                why = exc.explanation or exc
                raise TargetError(f"cannot create the drill network in {subnet}: {why}; set "
                                  "[target.docker] subnet to a free IPv4 /24") from None
            time.sleep(random.uniform(0.05, 0.3))  # another drill took it a moment ago: let it settle
    raise TargetError("no free subnet for the drill network after 8 tries; set [target.docker] subnet")


def role_ip(subnet: ipaddress.IPv4Network, role: str) -> str:
    return str(subnet.network_address + ROLE_HOST[role])


def default_api_host() -> str:
    """Where published ports are reached: the engine's host for tcp:// engines, else this host."""
    url = os.environ.get("DOCKER_HOST", "")
    if url.startswith("tcp://"):
        return urlparse(url).hostname or "127.0.0.1"
    return "127.0.0.1"


def reap(drill_id: str | None = None) -> list[str]:
    """Remove the containers, networks and volumes of one drill, or (None) of every drill whose harness is gone."""
    from spdrill.snapshots.cleanup import owner_alive

    try:
        client = connect(timeout=30)
    except CannotRunError:
        return []
    label = f"{LABEL}={drill_id}" if drill_id else LABEL
    removed: list[str] = []
    for c in client.containers.list(all=True, filters={"label": label}):
        if drill_id is None and owner_alive(c.labels.get(OWNER_LABEL, "")):
            continue
        if drill_id is None and c.labels.get(FOLDER_LABEL):  # a killed `restore = "remote"` drill
            removed.extend(_remove_host_folder(c))
        c.remove(force=True)
        removed.append(f"container {c.name} (drill {c.labels.get(LABEL)})")
    for n in client.networks.list(filters={"label": label}):
        if drill_id is None and owner_alive(n.attrs.get("Labels", {}).get(OWNER_LABEL, "")):
            continue
        try:
            n.remove()
            removed.append(f"network {n.name}")
        except Exception as exc:  # a network still in use by a container of a live drill stays
            removed.append(f"network {n.name} kept: {exc.__class__.__name__}")
    for v in client.volumes.list(filters={"label": label}):
        if drill_id is None and owner_alive((v.attrs.get("Labels") or {}).get(OWNER_LABEL, "")):
            continue
        try:
            v.remove(force=True)
            removed.append(f"volume {v.name}")
        except Exception as exc:  # a volume still mounted by a container of a live drill stays
            removed.append(f"volume {v.name} kept: {exc.__class__.__name__}")
    return removed


def _remove_host_folder(helper: Any) -> list[str]:
    """Remove a killed drill's folder on the engine's host through its still running restore helper."""
    folder = helper.labels[FOLDER_LABEL]
    if helper.status != "running" or not folder.startswith("/") or \
            not folder.rstrip("/").endswith(f"/spdrill-{helper.labels.get(LABEL)}"):
        return [f"folder {folder} on the engine's host kept: its helper is not running or the name is not a drill's"]
    code, _ = helper.exec_run(["chroot", HOST_ROOT, "rm", "-rf", "--one-file-system", folder], user="0:0")
    return [f"folder {folder} on the engine's host" + ("" if code == 0 else f" kept: rm exit {code}")]
