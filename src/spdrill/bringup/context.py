"""What the bring-up's stages share about one standby: plan, target, journal, the restored parts, the API
endpoints, the processes spdrill started, and the Lotus clients it opened (owned here, closed at release)."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spdrill.errors import DrillError
from spdrill.journal import JournalBuilder
from spdrill.lotus import ApiInfo, FullNodeClient, MinerClient
from spdrill.plan import Plan
from spdrill.restore import Restored, RestoredParts
from spdrill.targets import Target


@dataclass
class Endpoints:
    """API addresses and tokens of the standby; tokens are registered for redaction when set."""

    daemon_admin: ApiInfo | None = None
    daemon_read: ApiInfo | None = None
    miner_admin: ApiInfo | None = None
    miner_read: ApiInfo | None = None
    ports: dict[str, int] = field(default_factory=dict)


class Standby:
    """The standby being brought up; the stages read and fill it, one writer per field."""

    def __init__(self, plan: Plan, target: Target, journal: JournalBuilder) -> None:
        self.plan = plan
        self.target = target
        self.journal = journal
        self.fs = target.workfs()  # where the drill folder's files are read and written
        self.ep = Endpoints()
        self.restored: Restored | None = None
        self.parts: RestoredParts | None = None
        self.root: Path | None = None  # the drill's private folder on the target
        # The metadata backup as a file on this host: the restored one, or a copy of it from the standby host.
        self.backup_copy: Path | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()
        self._spawned: set[str] = set()  # roles this drill started, whose death is a finding
        self.death_grace = 3.0  # seconds to wait for a dying role's exit to be seen
        self._clients: dict[tuple[str, ApiInfo, float], FullNodeClient | MinerClient] = {}

    # -- processes -------------------------------------------------------------------------------------------
    def spawn(self, role: str, argv: Sequence[str], *, env: Mapping[str, str], port: int) -> None:
        """Start a role's process on the target; from now on its death is a finding about the restore."""
        with self._lock:
            self._spawned.add(role)
        self.target.spawn(role, argv, env=env, port=port)

    @property
    def spawned(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._spawned)

    def dead_roles(self) -> str:
        """Which started roles have exited (waiting briefly: an API drops a moment before its process is reaped)."""
        spawned = sorted(self.spawned)
        if not spawned:
            return ""
        deadline = time.monotonic() + self.death_grace
        while True:
            dead = []
            for role in spawned:
                try:
                    code = self.target.exit_code(role)
                except DrillError:
                    code = None
                if code is not None:
                    dead.append(f"the standby {role} process exited (code {code})")
            if dead or time.monotonic() >= deadline:
                return "; ".join(dead)
            time.sleep(0.2)

    # -- clients ---------------------------------------------------------------------------------------------
    def fullnode(self, info: ApiInfo | None, *, timeout: float = 30.0) -> FullNodeClient:
        """The client of a daemon endpoint, opened once and closed when the bring-up is released."""
        client = self._client("daemon", info, timeout)
        assert isinstance(client, FullNodeClient)
        return client

    def miner(self, info: ApiInfo | None, *, timeout: float = 30.0) -> MinerClient:
        """The client of a lotus-miner endpoint, opened once and closed when the bring-up is released."""
        client = self._client("miner", info, timeout)
        assert isinstance(client, MinerClient)
        return client

    def _client(self, role: str, info: ApiInfo | None, timeout: float) -> FullNodeClient | MinerClient:
        if info is None:
            raise DrillError(f"the standby {role}'s API is not up")
        key = (role, info, timeout)  # ApiInfo is frozen: token and address
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = (FullNodeClient if role == "daemon" else MinerClient)(info, timeout=timeout)
                self._clients[key] = client
            return client

    # -- files -----------------------------------------------------------------------------------------------
    def parts_(self) -> RestoredParts:
        """The restored parts (daemon repo, miner repo, snapshot, backup); the restore stage ran first."""
        assert self.parts is not None, "restore ran first"
        return self.parts

    def scratch(self) -> Path:
        """A folder on this host for copies of standby files, removed at release."""
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="spdrill-backup-")
        return Path(self._scratch.name)

    def env(self, **extra: str) -> dict[str, str]:
        """The plan's [standby] env with `extra` on top."""
        env = dict(self.plan.standby.env)
        env.update(extra)
        return env

    def release(self) -> None:
        """Close every client and remove the scratch folder; idempotent."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None
