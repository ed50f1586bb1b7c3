"""Address text: `f` (mainnet) and `t` (test networks) name the same address.

Lotus picks the prefix per build: build/buildconstants/params_calibnet.go:139 and params_2k.go:112 call
``SetAddressNetwork(address.Testnet)`` (shared_funcs.go:23-25 sets go-address's ``CurrentNetwork``), so calibnet
and devnet nodes print ``t0…``/``t3…``; go-address's ``decode`` accepts ``MainnetPrefix`` "f" or ``TestnetPrefix``
"t" for the same bytes (filecoin-project/go-address address.go, ``decode``).
"""

from __future__ import annotations

import pytest

from spdrill.lotus.address import normalize, normalized_set, same_address

BLS = "3vxj3tluoyhkwd2rjhfsgfzqwb5vmixxuk4pzhj7zsdkb2ydcx3elyeemvx7eu5aujovojnwtmhxupxzu66pka"


@pytest.mark.parametrize(("a", "b"), [("t01000", "f01000"), ("f01000", "f01000"), (f"t{BLS}", f"f{BLS}"),
                                      ("t1abc", "f1abc"), ("t2abc", "f2abc"), ("t410fabc", "f410fabc"),
                                      (" t01000", "f01000")])
def test_same_address_ignores_the_network_prefix(a: str, b: str) -> None:
    assert same_address(a, b) and same_address(b, a)


@pytest.mark.parametrize(("a", "b"), [("t01000", "f01001"), ("f01000", "f1000"), ("f3abc", "f1abc"),
                                      ("x01000", "f01000")])
def test_different_addresses_stay_different(a: str, b: str) -> None:
    assert not same_address(a, b)


def test_normalize_leaves_other_text_alone() -> None:
    assert normalize("t01000") == "f01000" and normalize("tx") == "tx" and normalize("") == ""
    assert normalized_set(["t3a", "f3a", "t1b"]) == {"f3a", "f1b"}
