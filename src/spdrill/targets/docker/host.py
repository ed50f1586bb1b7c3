"""Commands on the Docker engine's own host (`restore = "remote"`): a helper container chrooted into the host's `/`.

When the restore points (ZFS or btrfs snapshots, backup folders) live on the engine's host, the restore must
run there: the helper binds the host's `/` at /host and every command runs `chroot /host …`, so the host's own
zfs, btrfs and cp act on the host's files (zfs-fuse mounts its clones in the host's namespace itself). A mount
the restore makes from inside the helper (a kernel-ZFS clone, an overlay) reaches the host only when its `/` is
a shared mount (systemd's default): the bind is `rshared` then, private otherwise. That is root on the engine's
host (CAP_SYS_ADMIN for btrfs subvolume removal and mounts), which is what restoring there takes, as root over
SSH does for the ssh target; the helper carries the drill's labels, has no network, and goes with the drill.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from spdrill.errors import TargetError
from spdrill.snapshots.runner import CommandResult
from spdrill.targets.docker import kit

HOST_ROOT = kit.HOST_ROOT


class HostHelper:
    """A privileged container of one drill that runs commands chrooted into the engine host's root."""

    def __init__(self, client: Any, labels: Mapping[str, str], image: str, folder: Path) -> None:
        self.client = client
        # The folder it will make: `spdrill cleanup` removes it through this helper when the harness was killed.
        self.labels = {**labels, kit.FOLDER_LABEL: str(folder)}
        self.image = image
        self.container: Any = None
        self.shared_mounts = False

    def start(self) -> None:
        import docker.errors

        self.shared_mounts = True
        for propagation in ("rshared", ""):
            bind = {"bind": HOST_ROOT, "mode": "rw", **({"propagation": propagation} if propagation else {})}
            try:
                self.container = self.client.containers.run(
                    self.image, ["sleep", "infinity"], detach=True, network_mode="none", init=True, user="0:0",
                    cap_add=["SYS_ADMIN"], volumes={"/": bind},
                    labels={**self.labels, kit.ROLE_LABEL: "host-helper"})
                return
            except docker.errors.APIError as exc:
                if propagation and "shared mount" in str(exc):
                    self.shared_mounts = False  # the host's / is private: the helper's own mounts stay its own
                    continue
                raise TargetError(f"cannot start the restore helper (the host's / at {HOST_ROOT}, CAP_SYS_ADMIN) "
                                  f"from {self.image}: {exc.explanation or exc}; [target.docker] restore = "
                                  '"remote" needs an engine that allows both') from None

    def run(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        """Run argv on the engine's host; a missing program gives 127, a timeout 124 (CommandRunner)."""
        if self.container is None:
            raise TargetError('the restore helper is not running; [target.docker] restore = "remote" opens it '
                              "when the drill starts")
        wrapped = ["timeout", "-k", "5", str(max(1, int(timeout))), "chroot", HOST_ROOT, *argv]
        code, (out, err) = self.container.exec_run(wrapped, demux=True, user="0:0")
        return CommandResult(tuple(argv), int(code), (out or b"").decode(errors="replace"),
                                (err or b"").decode(errors="replace"))


class LateRunner:
    """A CommandRunner for the helper the target starts later: the bring-up asks for its file system first."""

    def __init__(self, helper: Callable[[], HostHelper | None]) -> None:
        self.helper = helper

    def run(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        helper = self.helper()
        if helper is None:
            raise TargetError('the restore helper is not running; [target.docker] restore = "remote" opens it '
                              "when the drill starts")
        return helper.run(argv, timeout=timeout)


def make_root(helper: HostHelper, root: Path, owner_text: str) -> None:
    """Create the drill folder on the engine's host, marked with its owner as on this host (reaper.OWNER_FILE)."""
    from spdrill.reaper import OWNER_FILE

    q = shlex.quote
    res = helper.run(["sh", "-c", f"mkdir -p {q(str(root.parent))} && mkdir {q(str(root))} && "
                      f"mkdir {q(str(root / 'logs'))} {q(str(root / 'home'))} && "
                      f"printf %s {q(owner_text)} > {q(str(root / OWNER_FILE))}"], timeout=60)
    if res.returncode != 0:
        raise TargetError(f"cannot create the drill folder {root} on the Docker engine's host: "
                          f"{res.stderr.strip()[-200:]}; set [target.docker] workdir to a writable folder there")


def remove_root(helper: HostHelper, root: Path) -> None:
    """Remove the drill folder on the engine's host, never crossing into a mount left inside it."""
    helper.run(["rm", "-rf", "--one-file-system", str(root)], timeout=300)
