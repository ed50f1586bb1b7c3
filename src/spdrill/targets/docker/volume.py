"""The drill folder as a Docker named volume, for engines that cannot see this host's files (`restore = "volume"`).

The restore runs here into a staging folder (the restore points are on this host); `fill` then streams that
folder into a volume labelled `spdrill.drill=<id>` through the engine API (`put_archive` into a helper
container), and from then on every file the drill reads or writes (config.toml, storage.json, tokens) goes
through `docker exec` in that helper, so the harness and the standby always see the same bytes.
"""

from __future__ import annotations

import queue
import tarfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from spdrill.errors import TargetError
from spdrill.snapshots.runner import CommandResult
from spdrill.targets.docker import kit
from spdrill.workfs import LocalFS, RunnerFS, WorkFS

CHUNK = 1 << 20


class DrillVolume:
    """One drill's named volume and the helper container that reads and writes it."""

    def __init__(self, client: Any, drill_id: str, labels: Mapping[str, str], image: str, user: str) -> None:
        self.client = client
        self.name = f"spdrill-{drill_id}"
        self.labels = dict(labels)
        self.image = image
        self.user = user
        self.volume: Any = None
        self.helper: Any = None
        self.mount = ""

    def create(self, mount: Path) -> None:
        """Create the volume and start the helper with it mounted at `mount` (the staging folder's own path).

        Mounting at the staging path keeps absolute symlinks of the restore (the workspace view) valid inside.
        """
        import docker.errors

        self.mount = str(mount)
        try:
            self.volume = self.client.volumes.create(self.name, labels=dict(self.labels))
            self.helper = self.client.containers.run(
                self.image, ["sleep", "infinity"], detach=True, network_mode="none", init=True, user=self.user,
                volumes={self.name: {"bind": self.mount, "mode": "rw"}},
                labels={**self.labels, kit.ROLE_LABEL: "volume-helper"})
        except docker.errors.APIError as exc:
            raise TargetError(f"cannot create the drill volume {self.name} with a helper from {self.image}: "
                              f"{exc.explanation or exc}") from None

    def fill(self, staging: Path) -> None:
        """Copy the staging folder into the volume (symlinks kept as links, owners and modes kept)."""
        import docker.errors

        assert self.helper is not None, "create() first"
        try:
            ok = self.helper.put_archive(self.mount, _tar_stream(staging))
        except docker.errors.APIError as exc:
            raise TargetError(f"cannot copy the restored drill folder into volume {self.name}: "
                              f"{exc.explanation or exc}") from None
        if not ok:
            raise TargetError(f"the engine refused the restored drill folder for volume {self.name}")
        # The volume's own root is the engine's (root) and the archive does not change it: hand it to the staging
        # folder's owner, so roles running as the harness's user can create their folders in it.
        st = staging.stat()
        code, out = self.helper.exec_run(["chown", f"{st.st_uid}:{st.st_gid}", self.mount], user="0:0")
        if code != 0:
            raise TargetError(f"cannot hand volume {self.name} to uid {st.st_uid}: {out.decode(errors='replace')}")

    def exec(self, argv: list[str], timeout: float) -> CommandResult:
        """Run argv in the helper (coreutils `timeout` bounds it: exec has no deadline of its own)."""
        assert self.helper is not None, "create() first"
        wrapped = ["timeout", "-k", "5", str(max(1, int(timeout))), *argv]
        code, (out, err) = self.helper.exec_run(wrapped, demux=True, user=self.user)
        return CommandResult(tuple(argv), int(code), (out or b"").decode(errors="replace"),
                                (err or b"").decode(errors="replace"))


def _tar_stream(root: Path) -> Iterator[bytes]:
    """An uncompressed tar of root's contents, made in a thread while the engine reads it (no temp file)."""
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=16)

    class _Writer:
        def write(self, data: bytes) -> int:
            chunks.put(bytes(data))
            return len(data)

    def produce() -> None:
        try:
            with tarfile.open(fileobj=_Writer(), mode="w|", bufsize=CHUNK) as tar:  # type: ignore[call-overload]
                for child in sorted(root.iterdir()):
                    tar.add(child, arcname=child.name)
            chunks.put(None)
        except BaseException as exc:  # the reader raises it: a silent short archive would be a wrong restore
            chunks.put(exc)

    threading.Thread(target=produce, name="drill-volume-tar", daemon=True).start()
    while True:
        item = chunks.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise TargetError(f"cannot read the staged drill folder {root}: {item}")
        yield item


class _ExecRunner:
    def __init__(self, volume: DrillVolume) -> None:
        self.volume = volume

    def run(self, argv: Any, *, timeout: float) -> CommandResult:
        return self.volume.exec(list(argv), timeout)


class VolumeFS:
    """The drill folder's files: the staging folder here until the volume is filled, then the volume itself."""

    def __init__(self, timeout: float = 120.0) -> None:
        self.timeout = timeout
        self._fs: WorkFS = LocalFS()
        self.local = True

    def switch_to(self, volume: DrillVolume) -> None:
        self._fs = RunnerFS(_ExecRunner(volume), f"docker volume {volume.name}", timeout=self.timeout)
        self.local = False

    def is_dir(self, path: Path) -> bool:
        return self._fs.is_dir(path)

    def is_file(self, path: Path) -> bool:
        return self._fs.is_file(path)

    def newest(self, root: Path, pattern: str) -> Path | None:
        return self._fs.newest(root, pattern)

    def read_text(self, path: Path) -> str:
        return self._fs.read_text(path)

    def write_text(self, path: Path, text: str) -> None:
        self._fs.write_text(path, text)

    def write_secret(self, path: Path, text: str) -> None:
        self._fs.write_secret(path, text)

    def unlink(self, path: Path) -> None:
        self._fs.unlink(path)

    def mkdir(self, path: Path) -> None:
        self._fs.mkdir(path)

    def symlink(self, link: Path, target: Path) -> None:
        self._fs.symlink(link, target)

    def rmdir(self, path: Path) -> bool:
        return self._fs.rmdir(path)

    def resolve(self, path: Path) -> Path:
        return self._fs.resolve(path)

    def fetch(self, path: Path, dest: Path, *, limit: int) -> bool:
        return self._fs.fetch(path, dest, limit=limit)
