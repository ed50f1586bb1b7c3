"""Tests for lotus_sim.jwt: HS256 tokens as Lotus issues and checks them."""

from __future__ import annotations

import base64
import json

import pytest

from lotus_sim.jwt import JwtError, decode_allow, encode_allow
from lotus_sim.perms import allow_for

SECRET = b"s" * 32


def test_round_trip_keeps_the_allow_list() -> None:
    token = encode_allow(["read", "write"], SECRET)
    assert decode_allow(token, SECRET) == ["read", "write"]


def test_payload_is_lotus_shaped() -> None:
    token = encode_allow(allow_for("sign"), SECRET)
    header, payload, _ = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == {"Allow": ["read", "write", "sign"]}


def test_other_secret_is_rejected() -> None:
    token = encode_allow(["admin"], SECRET)
    with pytest.raises(JwtError, match="signature"):
        decode_allow(token, b"t" * 32)


def test_tampered_payload_is_rejected() -> None:
    header, _, sig = encode_allow(["read"], SECRET).split(".")
    forged = base64.urlsafe_b64encode(b'{"Allow":["admin"]}').rstrip(b"=").decode()
    with pytest.raises(JwtError):
        decode_allow(f"{header}.{forged}.{sig}", SECRET)


def test_alg_none_is_rejected() -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(b'{"Allow":["admin"]}').rstrip(b"=").decode()
    with pytest.raises(JwtError, match="HS256"):
        decode_allow(f"{header}.{payload}.", SECRET)


@pytest.mark.parametrize("junk", ["", "abc", "a.b", "a.b.c.d", "!!.??.**"])
def test_garbage_is_rejected(junk: str) -> None:
    with pytest.raises(JwtError):
        decode_allow(junk, SECRET)


def test_allow_for_slices_the_levels_and_rejects_unknown() -> None:
    assert allow_for("read") == ["read"]
    assert allow_for("admin") == ["read", "write", "sign", "admin"]
    with pytest.raises(ValueError, match="one of: read, write, sign, admin"):
        allow_for("root")
