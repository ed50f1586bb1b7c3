"""`lotus-sim bindir`: a per-user folder of `lotus`, `lotus-miner` and `lotus-worker` launchers."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["PROGRAMS", "ensure_bindir", "main"]

# Program name -> module whose main(argv) it runs.
PROGRAMS: dict[str, str] = {
    "lotus": "lotus_sim.lotus_cli",
    "lotus-miner": "lotus_sim.miner_cli",
    "lotus-worker": "lotus_sim.worker_cli",
}

_TEMPLATE = """#!{python}
# lotus-sim launcher: the simulated `{name}` (not real Lotus). Made by `lotus-sim bindir`.
import sys
sys.path.insert(0, {src!r})
from {module} import main
sys.exit(main(sys.argv[1:]))
"""


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lotus-sim"


def _contents(python: str, src: str) -> dict[str, str]:
    return {
        name: _TEMPLATE.format(python=python, name=name, src=src, module=module)
        for name, module in PROGRAMS.items()
    }


def ensure_bindir(root: Path | None = None) -> Path:
    """Return a folder holding the three launchers for this interpreter, creating it if needed."""
    # The package's parent goes on sys.path so the launchers work from a source checkout too.
    src = str(Path(__file__).resolve().parent.parent)
    contents = _contents(sys.executable, src)
    digest = hashlib.sha256("\0".join(contents[n] for n in sorted(contents)).encode()).hexdigest()[:16]
    root = root or _cache_root()
    target = root / f"bin-{digest}"
    if all((target / name).is_file() and os.access(target / name, os.X_OK) for name in contents):
        return target
    root.mkdir(parents=True, exist_ok=True)
    # Build in a private folder and rename it into place, so concurrent callers never see half a folder.
    staging = Path(tempfile.mkdtemp(prefix=".bin-", dir=root))
    for name, text in contents.items():
        path = staging / name
        path.write_text(text)
        path.chmod(0o755)
    try:
        staging.rename(target)
    except OSError:
        # Another process won the race (or a stale partial folder exists): repair it in place.
        target.mkdir(exist_ok=True)
        for name in contents:
            os.replace(staging / name, target / name)
        staging.rmdir()
    return target


def main(argv: list[str]) -> int:
    """Print the launcher folder; callers put it first on their own PATH."""
    parser = argparse.ArgumentParser(
        prog="lotus-sim bindir",
        description="Print a folder holding simulated lotus, lotus-miner and lotus-worker programs. "
        "Put it first on PATH only where the stand-in is wanted: it would shadow a real Lotus.",
    )
    parser.parse_args(argv)
    try:
        print(ensure_bindir())
    except OSError as exc:
        print(f"lotus-sim bindir: cannot create the launcher folder in {_cache_root()}: {exc.strerror}; "
              "set XDG_CACHE_HOME to a writable folder", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
