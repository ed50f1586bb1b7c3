"""config.toml files of a production-like restore point, with Lotus's real section and key names."""

from __future__ import annotations

import json

_DAEMON = """\
# Lotus daemon configuration (written by lotus-sim make-fixture; a production node's settings)
[API]
  ListenAddress = "/ip4/127.0.0.1/tcp/1234/http"
  Timeout = "30s"

[Backup]
  DisableMetadataLog = true

[Libp2p]
  ListenAddresses = ["/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/0"]

[Wallet]
  DisableLocal = false

[Chainstore]
  EnableSplitstore = true
"""

_MINER = """\
# lotus-miner configuration (written by lotus-sim make-fixture). This is the production miner's file:
# winning PoSt is ON, so a drill must override it before starting a standby miner.
[API]
  ListenAddress = "/ip4/127.0.0.1/tcp/2345/http"
  RemoteListenAddress = "127.0.0.1:2345"
  Timeout = "30s"

[Backup]
  DisableMetadataLog = true

[Subsystems]
  EnableMining = true
  EnableSealing = true
  EnableSectorStorage = true
  DisableWindowPoSt = false
  DisableWinningPoSt = false

[Proving]
  ParallelCheckLimit = 32
  SingleCheckTimeout = "10m0s"
  PartitionCheckTimeout = "20m0s"
  DisableBuiltinWindowPoSt = false
  DisableBuiltinWinningPoSt = false
  DisableWDPoStPreChecks = false

[Sealing]
  MaxWaitDealsSectors = 2

[Storage]
  ParallelFetchLimit = 10
  AllowSectorDownload = true

[Addresses]
  PreCommitControl = {control}
  CommitControl = {control}
  DisableOwnerFallback = false
"""


def daemon_config() -> str:
    """A lotus daemon config.toml."""
    return _DAEMON


def miner_config(control_addresses: list[str] | None = None) -> str:
    """A production lotus-miner config.toml (``DisableWinningPoSt = false``)."""
    return _MINER.replace("{control}", json.dumps(control_addresses or []))
