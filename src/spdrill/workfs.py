"""The drill folder's file system, wherever it lives: this host, or a standby host reached over SSH.

The restore and the fence read and edit a few small files of the workspace (storage.json, config.toml,
token) and look for the chain snapshot and the backup. With the `ssh` target in `restore = "remote"` mode
the workspace is on the GPU host (made from its own ZFS or btrfs snapshots), so the same operations go
through a command runner there instead of Python's file calls here.
"""

from __future__ import annotations

import base64
import os
import shlex
import shutil
from pathlib import Path
from typing import Protocol

from spdrill.errors import TargetError
from spdrill.snapshots.runner import CommandRunner


class WorkFS(Protocol):
    """The few file operations a drill performs on its workspace."""

    local: bool

    def is_dir(self, path: Path) -> bool: ...

    def is_file(self, path: Path) -> bool: ...

    def newest(self, root: Path, pattern: str) -> Path | None:
        """The newest file (by mtime, then name) under root matching a glob pattern, or None."""
        ...

    def read_text(self, path: Path) -> str: ...

    def write_text(self, path: Path, text: str) -> None: ...

    def write_secret(self, path: Path, text: str) -> None:
        """Write a file only its owner can read (mode 0600, as Lotus requires of keystore files)."""
        ...

    def unlink(self, path: Path) -> None:
        """Remove a file if it is there."""
        ...

    def mkdir(self, path: Path) -> None:
        """Create a folder and its parents if missing."""
        ...

    def symlink(self, link: Path, target: Path) -> None: ...

    def rmdir(self, path: Path) -> bool:
        """Remove an empty folder; False when it is not empty (or not there)."""
        ...

    def resolve(self, path: Path) -> Path: ...

    def fetch(self, path: Path, dest: Path, *, limit: int) -> bool:
        """Copy a file to `dest` on this host, its mtime kept; False (nothing copied) when over `limit` bytes."""
        ...


class LocalFS:
    """The drill folder on this host."""

    local = True

    def is_dir(self, path: Path) -> bool:
        return path.is_dir()

    def is_file(self, path: Path) -> bool:
        return path.is_file()

    def newest(self, root: Path, pattern: str) -> Path | None:
        found = [p for p in root.glob(pattern) if p.is_file()]
        return max(found, key=lambda p: (p.stat().st_mtime, p.name)) if found else None

    def read_text(self, path: Path) -> str:
        return path.read_text()

    def write_text(self, path: Path, text: str) -> None:
        path.write_text(text)

    def write_secret(self, path: Path, text: str) -> None:
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)

    def unlink(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def mkdir(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)

    def symlink(self, link: Path, target: Path) -> None:
        link.symlink_to(target, target_is_directory=True)

    def rmdir(self, path: Path) -> bool:
        try:
            path.rmdir()
        except OSError:
            return False
        return True

    def resolve(self, path: Path) -> Path:
        return path.resolve()

    def fetch(self, path: Path, dest: Path, *, limit: int) -> bool:
        if path.stat().st_size > limit:
            return False
        shutil.copy2(path, dest)
        return True


class RunnerFS:
    """The drill folder on another host, through a command runner (POSIX sh and coreutils there)."""

    local = False

    def __init__(self, runner: CommandRunner, where: str, timeout: float = 120.0) -> None:
        self.runner = runner
        self.where = where
        self.timeout = timeout

    def _sh(self, script: str) -> tuple[int, str, str]:
        res = self.runner.run(["sh", "-c", script], timeout=self.timeout)
        return res.returncode, res.stdout, res.stderr

    def _ok(self, script: str, what: str) -> str:
        rc, out, err = self._sh(script)
        if rc != 0:
            raise TargetError(f"{self.where}: cannot {what} (exit {rc}): {err.strip()[-200:]}")
        return out

    def is_dir(self, path: Path) -> bool:
        return self._sh(f"test -d {shlex.quote(str(path))}")[0] == 0

    def is_file(self, path: Path) -> bool:
        return self._sh(f"test -f {shlex.quote(str(path))}")[0] == 0

    def newest(self, root: Path, pattern: str) -> Path | None:
        # The pattern is a glob relative to root, expanded by the remote shell (never interpolated unquoted
        # apart from its glob characters, which the plan validates as a relative pattern).
        if pattern.startswith("/") or ".." in Path(pattern).parts or any(c in pattern for c in "'\"`$;&|\n"):
            raise TargetError(f"unsafe pattern {pattern!r}: expected a relative glob like chain/*.car*")
        script = (f"cd {shlex.quote(str(root))} 2>/dev/null || exit 0; "
                  f"for f in {pattern}; do [ -f \"$f\" ] && printf '%s %s\\n' \"$(stat -c %Y \"$f\")\" \"$f\"; "
                  "done; true")
        rows = []
        for line in self._ok(script, f"list {pattern} under {root}").splitlines():
            mtime, _, name = line.partition(" ")
            if mtime.isdigit() and name:
                rows.append((int(mtime), name))
        return root / max(rows)[1] if rows else None

    def read_text(self, path: Path) -> str:
        return self._ok(f"cat {shlex.quote(str(path))}", f"read {path}")

    def write_text(self, path: Path, text: str) -> None:
        blob = base64.b64encode(text.encode()).decode()
        tmp = f"{path}.spdrill-tmp"
        self._ok(f"printf %s {shlex.quote(blob)} | base64 -d > {shlex.quote(tmp)} && "
                 f"mv -f {shlex.quote(tmp)} {shlex.quote(str(path))}", f"write {path}")

    def write_secret(self, path: Path, text: str) -> None:
        blob = base64.b64encode(text.encode()).decode()
        tmp = f"{path}.spdrill-tmp"
        self._ok(f"umask 077 && rm -f {shlex.quote(tmp)} && printf %s {shlex.quote(blob)} | base64 -d > "
                 f"{shlex.quote(tmp)} && chmod 600 {shlex.quote(tmp)} && mv -f {shlex.quote(tmp)} "
                 f"{shlex.quote(str(path))}", f"write {path}")

    def unlink(self, path: Path) -> None:
        self._ok(f"rm -f {shlex.quote(str(path))}", f"remove {path}")

    def mkdir(self, path: Path) -> None:
        self._ok(f"mkdir -p {shlex.quote(str(path))}", f"create {path}")

    def symlink(self, link: Path, target: Path) -> None:
        self._ok(f"ln -s {shlex.quote(str(target))} {shlex.quote(str(link))}", f"link {link}")

    def rmdir(self, path: Path) -> bool:
        return self._sh(f"rmdir {shlex.quote(str(path))}")[0] == 0

    def resolve(self, path: Path) -> Path:
        out = self._ok(f"readlink -f {shlex.quote(str(path))}", f"resolve {path}").strip()
        return Path(out or os.fspath(path))

    def fetch(self, path: Path, dest: Path, *, limit: int) -> bool:
        # size and mtime on the first line, then the file as one base64 line (the runner carries text only)
        q = shlex.quote(str(path))
        out = self._ok(f"set -e; stat -c '%s %Y' {q}; if [ \"$(stat -c %s {q})\" -le {int(limit)} ]; then "
                       f"base64 -w0 {q}; fi", f"read {path}")
        head, _, body = out.partition("\n")
        size, mtime = (int(v) for v in head.split())
        if size > limit:
            return False
        data = base64.b64decode(body.strip())
        if len(data) != size:
            raise TargetError(f"{self.where}: {path} changed while it was read ({len(data)} of {size} bytes)")
        dest.write_bytes(data)
        os.utime(dest, (mtime, mtime))
        return True
