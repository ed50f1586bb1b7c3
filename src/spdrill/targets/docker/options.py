"""The `[target.docker]` table: its keys, their checks, and where the drill folder lives (`restore`)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spdrill.errors import PlanError
from spdrill.plan import SIZE_FORM, parse_size

DEFAULT_IMAGE = "filecoin/lotus-all-in-one:stable"
ROLES = ("daemon", "miner", "worker")
# Where the drill folder lives: "harness" bind-mounts a folder of this host (the engine must see it),
# "volume" copies the restored folder into a labelled named volume through the engine API, "remote" restores
# on the engine's host (its own snapshots) through a privileged helper and bind-mounts the folder there.
RESTORE_MODES = ("harness", "volume", "remote")


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
        raise _fail("restore", f'expected "harness" (bind-mount a folder of this host), "volume" (copy the '
                    'restored folder into a Docker volume through the engine) or "remote" (restore on the '
                    f'engine\'s host from its own snapshots), found {out["restore"]!r}')
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
                'one; set [target.docker] restore = "volume" (copy the restore into a Docker volume), "remote" '
                '(the restore points are on the engine\'s host) or "harness" (only when the engine shares this '
                "host's files)")


