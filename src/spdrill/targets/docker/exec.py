"""Commands of a drill in its containers: in a running role's container (exec) or in a one-shot container."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spdrill.errors import CannotRunError, TargetError
from spdrill.targets.base import CommandResult


def exec_in(container: Any, argv: Sequence[str], env: Mapping[str, str], workdir: str | None,
            timeout: float) -> CommandResult:
    """Run argv in a running container; TargetError when it outlives `timeout`."""
    # exec has no timeout of its own: coreutils `timeout` ends the command (124) and we report it.
    wrapped = ["timeout", "-k", "5", str(max(1, int(timeout))), *argv]
    code, (out, err) = container.exec_run(wrapped, environment=dict(env), demux=True, workdir=workdir)
    if code == 124:
        raise TargetError(f"{' '.join(argv[:2])}: no answer within {timeout:.0f}s")
    return CommandResult(tuple(argv), int(code), (out or b"").decode(errors="replace"),
                         (err or b"").decode(errors="replace"))


def oneshot(client: Any, image: str, argv: Sequence[str], env: Mapping[str, str], kwargs: Mapping[str, Any],
            timeout: float) -> CommandResult:
    """Run argv in a fresh container of `image` (removed after); TargetError when it outlives `timeout`."""
    import docker.errors
    import requests.exceptions

    try:
        c = client.containers.run(image, list(argv), environment=dict(env), **kwargs)
    except docker.errors.APIError as exc:
        raise TargetError(f"cannot run `{argv[0]}` in {image}: {exc.explanation or exc}") from None
    try:
        try:
            status = c.wait(timeout=timeout)
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            raise TargetError(f"{argv[0]} {argv[1] if len(argv) > 1 else ''}: no answer within "
                              f"{timeout:.0f}s") from None
        out = c.logs(stdout=True, stderr=False).decode(errors="replace")
        err = c.logs(stdout=False, stderr=True).decode(errors="replace")
        return CommandResult(tuple(argv), int(status.get("StatusCode", -1)), out, err)
    finally:
        c.remove(force=True)


def require_visible(client: Any, image: str, root: Path, drill_id: str, labels: Mapping[str, str],
                    user: str) -> None:
    """Refuse a bind-mounted drill folder the engine does not see (a remote engine with `restore = "harness"`).

    The folder's owner mark is read back through a one-shot container: an engine on another host would bind
    an empty or foreign folder of its own, and the standby would start on nothing.
    """
    from spdrill.reaper import OWNER_FILE

    kwargs = {"detach": True, "network_mode": "none", "user": user, "labels": dict(labels),
              "volumes": {str(root): {"bind": str(root), "mode": "ro"}}}
    res = oneshot(client, image, ["cat", str(root / OWNER_FILE)], {}, kwargs, timeout=120)
    if res.returncode != 0 or res.stdout.split("\n")[0] != drill_id:
        where = os.environ.get("DOCKER_HOST", "")
        raise CannotRunError(f"the Docker engine at DOCKER_HOST={where} does not see the drill folder {root} of "
                             'this host, so [target.docker] restore = "harness" cannot work there; use restore = '
                             '"volume" (or "remote" when the restore points are on the engine\'s host)')
