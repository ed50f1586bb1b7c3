"""The `docker` target: one container per standby role on a per-drill bridge network, through the Docker SDK.

The drill folder is bind-mounted into every container (at the same path unless `mount_at` says otherwise), or
with `restore = "volume"` (an engine on another host) copied into a labelled named volume after the restore
(`volume`); each role gets a fixed address in the drill's subnet, so the worker can be told the miner's
address before the miner exists; APIs are published on 127.0.0.1 only; every container and the network carry
`spdrill.drill=<id>` (so does the volume), so `spdrill cleanup` can reap what a killed drill left (`reap`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import socket
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spdrill.errors import TargetError
from spdrill.plan import StandbySpec
from spdrill.targets.base import CommandResult, Host, ReapScope, Target
from spdrill.targets.docker import exec as dexec
from spdrill.targets.docker import kit
from spdrill.targets.docker.host import HostHelper, LateRunner, make_root, remove_root
from spdrill.targets.docker.options import engine_is_local
from spdrill.targets.docker.volume import DrillVolume, VolumeFS
from spdrill.targets.limits import LOTUS_WORKER_NOFILE
from spdrill.targets.local import MARK_ENV
from spdrill.workfs import LocalFS, RunnerFS, WorkFS

reap = kit.reap
STOP_GRACE_S = 10


log = logging.getLogger("spdrill.targets.docker")


class DockerTarget(Target):
    """Runs the standby's roles as containers of one Docker engine (local, or remote through DOCKER_HOST)."""

    kind = "docker"

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> None:
        kit.restore_mode(kit.parse_options(options))

    @classmethod
    def options_with_image(cls, options: Mapping[str, Any], image: str) -> dict[str, Any]:
        """`image` for every role: the plan's per-role `images` give way to it."""
        out = {k: v for k, v in options.items() if k != "images"}
        out["image"] = image
        return out

    @classmethod
    def reaps(cls, scope: ReapScope) -> bool:
        return True

    @classmethod
    def reap(cls, scope: ReapScope) -> list[str]:
        """The engine's containers, networks and volumes labelled with a killed drill (or the one asked for)."""
        return kit.reap(scope.drill_id)

    def __init__(self, options: Mapping[str, Any], standby: StandbySpec | None = None) -> None:
        super().__init__(options, standby)
        self.opts = kit.parse_options(options)
        self.mode = kit.restore_mode(self.opts)
        self.volume: DrillVolume | None = None
        self.host_helper: HostHelper | None = None
        self._volume_fs = VolumeFS()
        self._filled = False
        # [standby] bindir names a folder on the harness host; containers take their programs from the image.
        self.gpu_wanted = self.standby.requirements.gpu
        self.workdir = Path(self.opts.workdir or os.environ.get("SPDRILL_WORKDIR", "/var/tmp/spdrill"))
        self.api_host = self.opts.api_host or kit.default_api_host()
        self.client: Any = None
        self.root: Path | None = None
        self.drill_id = ""
        self.subnet: ipaddress.IPv4Network | None = None
        self.network: Any = None
        self._labels: dict[str, str] = {}
        self._handed: set[int] = set()
        self._containers: dict[str, Any] = {}
        self._logs: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------------
    def open(self, drill_id: str) -> Path:
        from spdrill.reaper import write_owner
        from spdrill.snapshots.cleanup import owner_tag

        self.client = kit.connect()
        self.drill_id = drill_id
        self._labels = {kit.LABEL: drill_id, kit.OWNER_LABEL: owner_tag()}
        for image in sorted({self.opts.image_for(r) for r in kit.ROLES}):
            kit.ensure_image(self.client, image, self.opts.pull)
        root = self.workdir / f"spdrill-{drill_id}"
        if self.mode == "remote":  # the folder and its workspaces live on the engine's host
            self.host_helper = HostHelper(self.client, self._labels, self.opts.image_for("daemon"), root)
            self.host_helper.start()
            make_root(self.host_helper, root, f"{drill_id}\n{owner_tag()}\n")
        else:
            try:
                (root / "logs").mkdir(parents=True)
                (root / "home").mkdir()
            except OSError as exc:
                raise TargetError(f"cannot create the drill folder under {self.workdir}: {exc.strerror}; set "
                                  "[target.docker] workdir to a writable folder") from None
            write_owner(root, drill_id)
        self.root = root
        if self.mode == "harness" and not engine_is_local(os.environ.get("DOCKER_HOST", "")):
            dexec.require_visible(self.client, self.opts.image_for("daemon"), root, drill_id, self._labels,
                                  self._user())
        self.network, self.subnet = kit.create_network(self.client, drill_id, self._labels, self.opts.subnet)
        if self.mode == "volume":
            self.volume = DrillVolume(self.client, drill_id, self._labels, self.opts.image_for("daemon"),
                                      self._user())
            self.volume.create(root)
        return root

    def workfs(self) -> WorkFS:
        """The drill folder's files: the volume's once filled (`volume`), the engine host's (`remote`), or here."""
        if self.mode == "remote":
            return RunnerFS(self.source_runner() or LateRunner(lambda: None), "the Docker engine's host")
        return self._volume_fs if self.mode == "volume" else LocalFS()

    def source_runner(self) -> LateRunner | None:
        """Restore-point sources run on the engine's host in `restore = "remote"` mode (its own snapshots)."""
        return LateRunner(lambda: self.host_helper) if self.mode == "remote" else None

    def publish_workspace(self) -> None:
        """Copy the restored staging folder into the drill volume (once; a no-op when the folder is bind-mounted).

        From then on the standby's files are read and written in the volume only; the staging copy is not read.
        """
        with self._lock:
            if self.volume is None or self._filled:
                return
            assert self.root is not None
            self.volume.fill(self.root)
            self._volume_fs.switch_to(self.volume)
            self._filled = True

    # -- what the bring-up asks ------------------------------------------------------------------------------
    def path(self, local: Path) -> str:
        assert self.root is not None, "open() first"
        if not self.opts.mount_at:
            return str(local)
        return str(Path(self.opts.mount_at) / local.resolve().relative_to(self.root.resolve()))

    def listen_host(self, role: str) -> str:
        return self._ip(role)

    def peer(self, role: str, port: int) -> tuple[str, int]:
        return self._ip(role), port

    def endpoint(self, role: str, port: int) -> tuple[str, int]:
        return self.api_host, port

    def harness_bind_host(self) -> str:
        """The drill network's gateway: this host's side of the bridge, which the role containers can dial."""
        assert self.subnet is not None, "open() first"
        return str(self.subnet.network_address + 1)

    def expose_harness(self, port: int) -> tuple[str, int]:
        return self.harness_bind_host(), port

    def free_port(self) -> int:
        while True:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            with self._lock:
                if port not in self._handed:  # the port is only published later: never give it out twice
                    self._handed.add(port)
                    return port

    def _ip(self, role: str) -> str:
        assert self.subnet is not None, "open() first"
        return kit.role_ip(self.subnet, role)

    def _mounts(self) -> dict[str, dict[str, str]]:
        assert self.root is not None
        source = self.volume.name if self.volume is not None else str(self.root)
        mounts = {source: {"bind": self.opts.mount_at or str(self.root), "mode": "rw"}}
        if self.opts.params_dir:
            # Read-write: Lotus's paramfetch takes a lock file in the cache even when every file is there.
            mounts[self.opts.params_dir] = {"bind": kit.PARAMS_IN_CONTAINER, "mode": "rw"}
        return mounts

    def _env(self, env: Mapping[str, str]) -> dict[str, str]:
        assert self.root is not None
        out = {MARK_ENV: self.drill_id, "HOME": self.path(self.root / "home")}
        if self.opts.params_dir:
            out["FIL_PROOFS_PARAMETER_CACHE"] = kit.PARAMS_IN_CONTAINER
        out.update(env)
        return out

    def _common(self, role: str) -> dict[str, Any]:
        assert self.root is not None
        kwargs: dict[str, Any] = {
            "detach": True, "volumes": self._mounts(), "working_dir": self.path(self.root),
            "labels": {**self._labels, kit.ROLE_LABEL: role}, "network": self.network.name,
            "user": self._user(),
            "init": True,  # a real PID 1 forwards SIGTERM, so `docker stop` is a clean Lotus shutdown
        }
        if self.opts.memory:
            kwargs["mem_limit"] = self.opts.memory
        if self.opts.cpus:
            kwargs["nano_cpus"] = int(self.opts.cpus * 1e9)
        return kwargs

    def _user(self) -> str:
        if self.opts.user:
            return self.opts.user
        # Files in a folder of this host stay the harness's; on the engine's host the helper made them as root.
        return "0:0" if self.mode == "remote" else f"{os.getuid()}:{os.getgid()}"

    def spawn(self, role: str, argv: Sequence[str], *, env: Mapping[str, str], port: int) -> None:
        import docker.errors

        self.publish_workspace()  # the standby must never start on an empty volume
        ip = self._ip(role)
        command, listen_env = kit.container_argv(role, argv, ip, port)
        kwargs = self._common(role)
        kwargs["networking_config"] = {self.network.name: self.client.api.create_endpoint_config(
            ipv4_address=ip, aliases=[role])}
        kwargs["ports"] = {f"{port}/tcp": (self.opts.publish_host, port)}
        if role == "worker" and self.gpu_wanted:
            kwargs["device_requests"] = kit.device_requests(self.opts.gpus)
        if role == "worker":  # lotus-worker checks its open-files limit and never raises it (limits.py)
            kwargs["ulimits"] = kit.nofile_ulimits()
        name = f"spdrill-{self.drill_id}-{role}"
        try:
            try:
                container = self.client.containers.run(
                    self.opts.image_for(role), command, name=name,
                    environment={**self._env(env), **listen_env}, **kwargs)
            except docker.errors.APIError as exc:
                if "ulimits" not in kwargs or "rlimit" not in str(exc.explanation or exc):
                    raise
                # The engine's own hard limit is lower: start with its default, and say why the worker may exit.
                log.warning("the Docker engine cannot give the %s container nofile=%d (its own hard limit is "
                            "lower); started with the engine's limit", role, LOTUS_WORKER_NOFILE)
                self._remove_named(name)
                del kwargs["ulimits"]
                container = self.client.containers.run(
                    self.opts.image_for(role), command, name=name,
                    environment={**self._env(env), **listen_env}, **kwargs)
        except docker.errors.APIError as exc:
            raise TargetError(f"cannot start the {role} container from {self.opts.image_for(role)}: "
                              f"{exc.explanation or exc}") from None
        with self._lock:
            self._containers[role] = container

    def _remove_named(self, name: str) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.APIError):  # never created: nothing to remove
            self.client.containers.get(name).remove(force=True)

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], timeout: float) -> CommandResult:
        self.publish_workspace()
        role = kit.PROGRAM_ROLE.get(Path(argv[0]).name, "daemon")
        with self._lock:
            running = self._containers.get(role)
        if running is not None and self.exit_code(role) is None:
            return self._exec(running, argv, env, timeout)
        return self._oneshot(role, argv, env, timeout)

    def _exec(self, container: Any, argv: Sequence[str], env: Mapping[str, str],
              timeout: float) -> CommandResult:
        return dexec.exec_in(container, argv, self._env(env), self.path(self.root) if self.root else None, timeout)

    def _oneshot(self, role: str, argv: Sequence[str], env: Mapping[str, str],
                 timeout: float) -> CommandResult:
        return dexec.oneshot(self.client, self.opts.image_for(role), argv, self._env(env),
                             self._common(f"{role}-oneshot"), timeout)

    def exit_code(self, role: str) -> int | None:
        import docker.errors

        with self._lock:
            container = self._containers.get(role)
        if container is None:
            return None
        try:
            container.reload()
        except docker.errors.NotFound:
            return -1
        if container.status in ("exited", "dead"):
            return int(container.attrs["State"]["ExitCode"])
        return None

    def host(self) -> Host:
        """A testinfra Host inside the worker container (where the GPU is), else the miner's or daemon's."""
        import testinfra

        with self._lock:
            running = [self._containers[r] for r in ("worker", "miner", "daemon") if r in self._containers]
        if not running:
            raise TargetError("no standby container runs yet; host checks need the worker container")
        host: Host = testinfra.get_host(f"docker://{running[0].name}")
        return host

    def logs(self) -> dict[str, str]:
        with self._lock:
            items = list(self._containers.items())
        for role, c in items:
            try:
                self._logs[role] = c.logs(stdout=True, stderr=True).decode(errors="replace")
            except Exception:  # a container gone already keeps the last logs we read
                continue
        return dict(self._logs)

    def stop_processes(self) -> None:
        """Stop every role container (SIGTERM, SIGKILL after the grace period); they stay for their logs."""
        with self._lock:
            items = list(self._containers.values())
        threads = [threading.Thread(target=_stop, args=(c,), daemon=True) for c in items]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=STOP_GRACE_S + 15)

    def close(self) -> None:
        if self.client is None:
            return
        self.stop_processes()
        self.logs()
        if self.host_helper is not None and self.root is not None:
            remove_root(self.host_helper, self.root)  # before the reap removes the helper
        self.host_helper = None
        if self.drill_id:
            kit.reap(self.drill_id)
        self._containers.clear()
        if self.root is not None and self.mode != "remote" and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        self.root = None
        self.volume = None
        self.client.close()
        self.client = None


def _stop(container: Any) -> None:
    try:
        container.stop(timeout=STOP_GRACE_S)
    except Exception:  # already gone: nothing to stop
        return
