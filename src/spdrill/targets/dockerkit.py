"""Pieces of the docker target that need no running drill: options, the drill network, API flags, reaping."""

from __future__ import annotations

import ipaddress
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from spdrill.errors import CannotRunError, PlanError, TargetError
from spdrill.plan import SIZE_FORM, parse_size

LABEL = "spdrill.drill"
OWNER_LABEL = "spdrill.owner"
ROLE_LABEL = "spdrill.role"
DEFAULT_IMAGE = "filecoin/lotus-all-in-one:stable"
PARAMS_IN_CONTAINER = "/var/tmp/filecoin-proof-parameters"  # FIL_PROOFS_PARAMETER_CACHE of the official image
ROLES = ("daemon", "miner", "worker")
# Fixed addresses in the drill subnet: a role must know its peer's address before that peer starts.
ROLE_HOST = {"daemon": 10, "miner": 11, "worker": 12}
PROGRAM_ROLE = {"lotus": "daemon", "lotus-miner": "miner", "lotus-worker": "worker"}
# Real Lotus binds 127.0.0.1 whenever `--api`/`--miner-api` is given (cmd/lotus/daemon.go `RpcServer`), so
# in a container the flag is dropped and LOTUS_API_LISTENADDRESS ([API] ListenAddress) says where to listen.
API_FLAGS = {"daemon": "--api", "miner": "--miner-api"}
SUBNET_POOL = ipaddress.ip_network("10.213.0.0/16")
# Where the drill folder lives: "harness" bind-mounts a folder of this host (the engine must see it),
# "volume" copies the restored folder into a labelled named volume through the engine API.
RESTORE_MODES = ("harness", "volume")


@dataclass(frozen=True)
class DockerOptions:
    """The `[target.docker]` table, validated."""

    image: str = DEFAULT_IMAGE
    images: Mapping[str, str] | None = None
    workdir: str = ""
    mount_at: str = ""
    gpus: str | int | tuple[str, ...] = "none"
    memory: int | None = None
    cpus: float | None = None
    params_dir: str = ""
    publish_host: str = "127.0.0.1"
    api_host: str = ""
    pull: str = "missing"
    subnet: str = ""
    user: str = ""
    restore: str = ""

    def image_for(self, role: str) -> str:
        return (self.images or {}).get(role, self.image)


def _fail(key: str, message: str) -> PlanError:
    return PlanError(message, field=f"target.docker.{key}")


def parse_options(options: Mapping[str, Any]) -> DockerOptions:
    """Validate `[target.docker]`; PlanError names `target.docker.<key>`."""
    known = set(DockerOptions.__dataclass_fields__)
    for key in options:
        if key not in known:
            raise _fail(key, f"unknown key; expected one of: {', '.join(sorted(known))}")
    out: dict[str, Any] = {}
    strings = ("image", "workdir", "mount_at", "params_dir", "publish_host", "api_host", "pull", "subnet",
               "user", "restore")
    for key in strings:
        if key in options:
            if not isinstance(options[key], str):
                raise _fail(key, f"expected a string, found {options[key]!r}")
            out[key] = options[key]
    for key in ("workdir", "mount_at", "params_dir"):
        if out.get(key) and not out[key].startswith("/"):
            raise _fail(key, f"expected an absolute folder, found {out[key]!r}")
    if out.get("pull", "missing") not in ("missing", "never", "always"):
        raise _fail("pull", f'expected "missing", "never" or "always", found {out["pull"]!r}')
    if out.get("restore", "harness") not in RESTORE_MODES:
        raise _fail("restore", f'expected "harness" (bind-mount a folder of this host) or "volume" (copy the '
                    f'restored folder into a Docker volume through the engine), found {out["restore"]!r}')
    if out.get("subnet"):
        try:
            net = ipaddress.ip_network(out["subnet"])
        except ValueError:
            raise _fail("subnet", f"expected an IPv4 network like \"10.213.7.0/24\", found "
                        f"{out['subnet']!r}") from None
        if net.version != 4 or net.prefixlen > 26:
            raise _fail("subnet", f"expected an IPv4 network of /26 or larger, found {out['subnet']!r}")
    if "images" in options:
        images = options["images"]
        if not isinstance(images, dict) or not all(k in ROLES and isinstance(v, str)
                                                   for k, v in images.items()):
            raise _fail("images", f"expected a table of role → image with roles {', '.join(ROLES)}, "
                        f"found {images!r}")
        out["images"] = dict(images)
    if "gpus" in options:
        out["gpus"] = _gpus(options["gpus"])
    if "memory" in options:
        try:
            out["memory"] = parse_size(str(options["memory"]))
        except ValueError:
            raise _fail("memory", f"expected {SIZE_FORM}, found {options['memory']!r}") from None
    if "cpus" in options:
        cpus = options["cpus"]
        if isinstance(cpus, bool) or not isinstance(cpus, int | float) or cpus <= 0:
            raise _fail("cpus", f"expected a positive number of CPUs like 8 or 1.5, found {cpus!r}")
        out["cpus"] = float(cpus)
    return DockerOptions(**out)


def _gpus(value: Any) -> str | int | tuple[str, ...]:
    if value in ("all", "none"):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _fail("gpus", f'expected "all", "none", a count, or a list of GPU ids/UUIDs, found {value!r}')


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


def role_ip(subnet: ipaddress.IPv4Network, role: str) -> str:
    return str(subnet.network_address + ROLE_HOST[role])


def engine_is_local(docker_host: str) -> bool:
    """Whether the engine surely shares this host's files: only a unix socket says so (tcp may be forwarded)."""
    return docker_host == "" or docker_host.startswith("unix://")


def restore_mode(opts: DockerOptions, docker_host: str | None = None) -> str:
    """The plan's `restore`, or "harness" for a local engine; a remote engine must be told (PlanError)."""
    where = os.environ.get("DOCKER_HOST", "") if docker_host is None else docker_host
    if opts.restore:
        return opts.restore
    if engine_is_local(where):
        return "harness"
    raise _fail("restore", f"DOCKER_HOST={where} may be another host, which cannot see a drill folder of this "
                'one; set [target.docker] restore = "volume" (copy the restore into a Docker volume) or '
                '"harness" (only when the engine shares this host\'s files)')


def default_api_host() -> str:
    """Where published ports are reached: the engine's host for tcp:// engines, else this host."""
    url = os.environ.get("DOCKER_HOST", "")
    if url.startswith("tcp://"):
        return urlparse(url).hostname or "127.0.0.1"
    return "127.0.0.1"


def connect(timeout: float = 60) -> Any:
    """A Docker SDK client from DOCKER_HOST (and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH), checked with a ping."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = _from_env(int(timeout), where)
        client.ping()
    except Exception as exc:
        if _tls_failure(exc):
            certs = os.environ.get("DOCKER_CERT_PATH", "~/.docker")
            raise CannotRunError(f"the TLS handshake with the Docker engine at DOCKER_HOST={where} failed "
                                 f"({exc.__class__.__name__}); DOCKER_CERT_PATH={certs} must hold ca.pem, cert.pem "
                                 "and key.pem of a client the engine trusts (and DOCKER_TLS_VERIFY=1)") from None
        raise CannotRunError(f"no Docker engine answers at DOCKER_HOST={where} ({exc.__class__.__name__}); start "
                             "dockerd (or the remote engine) or set DOCKER_HOST") from None
    return client


def _from_env(timeout: int, where: str) -> Any:
    """docker.from_env, except that a TLS engine is verified against DOCKER_CERT_PATH's ca.pem only.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (often set system-wide) replace the client's own CA on
    every request, so the engine's private CA would never be trusted: the client ignores the environment.
    """
    import docker
    from docker.utils import kwargs_from_env

    kwargs = kwargs_from_env()
    if kwargs.get("tls") is None:
        return docker.from_env(timeout=timeout, use_ssh_client=where.startswith("ssh://"))
    probe = docker.DockerClient(version="1.24", timeout=timeout, **kwargs)  # the oldest API docker-py speaks
    try:
        probe.api.trust_env = False
        version = str(probe.version()["ApiVersion"])
    finally:
        probe.close()
    client = docker.DockerClient(version=version, timeout=timeout, **kwargs)
    client.api.trust_env = False
    return client


def _tls_failure(exc: BaseException) -> bool:
    """Whether a connect error is about certificates (a bad or missing DOCKER_CERT_PATH), not a silent engine."""
    import ssl

    from docker.errors import TLSParameterError

    seen: BaseException | None = exc
    for _ in range(8):  # requests wraps urllib3 wraps ssl: walk the chain
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError | TLSParameterError) or "SSL" in seen.__class__.__name__:
            return True
        seen = seen.__cause__ or seen.__context__ or (seen.args[0] if seen.args and
                                                      isinstance(seen.args[0], BaseException) else None)
    return False


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
