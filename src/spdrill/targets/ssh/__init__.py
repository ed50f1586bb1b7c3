"""The `ssh` target: the standby's roles on a GPU host reached over SSH.

`target` holds the Target, `conn` the `[target.ssh]` table and the connection, `forward` the port forwards,
`units` the transient systemd units of `start = "systemd"`, `reap` what killed drills left on that host.
"""

from spdrill.targets.ssh.target import SshTarget

__all__ = ["SshTarget"]
