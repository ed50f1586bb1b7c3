"""The `docker` target: one container per standby role on a per-drill network of one Docker engine.

`target` holds the Target, `options` the `[target.docker]` table, `kit` what needs no running drill (network,
images, API flags, reaping by label), `remote` how the engine is reached, `exec` commands in containers,
`volume` the drill folder as a named volume, `host` commands on the engine's own host.
"""

from spdrill.targets.docker.kit import reap
from spdrill.targets.docker.target import DockerTarget

__all__ = ["DockerTarget", "reap"]
