"""Filecoin address text: the same address prints with `f` on mainnet and `t` on test networks.

Lotus sets the prefix once per build (build/buildconstants/params_calibnet.go:139, params_2k.go:112:
``SetAddressNetwork(address.Testnet)``; params_mainnet.go:157-163), and go-address reads either prefix as the
same address (address.go ``decode``: ``MainnetPrefix`` "f" or ``TestnetPrefix`` "t"). So a plan that says
``f01000`` and a calibnet node that prints ``t01000`` name one actor; compare addresses only through here.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["normalize", "normalized_set", "same_address"]

_NETWORKS = frozenset("ft")
_PROTOCOLS = frozenset("01234")  # id, secp256k1, actor, bls, delegated


def normalize(address: str) -> str:
    """The address with the mainnet prefix `f`; text that is not an f/t address comes back unchanged."""
    a = address.strip()
    if len(a) >= 3 and a[0] in _NETWORKS and a[1] in _PROTOCOLS:
        return "f" + a[1:]
    return a


def same_address(a: str, b: str) -> bool:
    """Whether two address strings name the same address, whatever network prefix each carries."""
    return normalize(a) == normalize(b)


def normalized_set(addresses: Iterable[str]) -> frozenset[str]:
    """The addresses, normalised, for membership tests (`normalize(x) in normalized_set(wallet)`)."""
    return frozenset(map(normalize, addresses))
