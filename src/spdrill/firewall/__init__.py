"""The chain firewall: a filtering JSON-RPC proxy that lets a key-free standby lotus-miner start.

fw = ChainFirewall(upstream_url, upstream_token, worker_keys={"f3..."})
fw.start(); env["FULLNODE_API_INFO"] = fw.api_info("127.0.0.1"); ...; fw.stop()
fw.report().summary()
"""

from __future__ import annotations

from spdrill.firewall.methods import RULES, MethodRule, Verdict
from spdrill.firewall.proxy import ChainFirewall
from spdrill.firewall.report import FirewallReport, RefusedCall, WalletHasAnswer

__all__ = [
    "RULES",
    "ChainFirewall",
    "FirewallReport",
    "MethodRule",
    "RefusedCall",
    "Verdict",
    "WalletHasAnswer",
]
