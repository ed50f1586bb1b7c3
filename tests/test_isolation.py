"""Standby isolation (DESIGN rule 2b), checked against what Lotus reads at start."""

import base64
import hashlib
import hmac
import json
import stat
import tomllib
from pathlib import Path

import pytest

from spdrill.isolation import (
    LIBP2P_KEY,
    admin_token,
    fresh_api_secret,
    isolate_repo,
    keystore_file,
    with_libp2p_isolated,
)
from spdrill.lotusconfig import set_section_keys
from spdrill.workfs import LocalFS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "lotus-api"


def test_keystore_names_are_lotus_base32() -> None:
    # node/repo/fsrepo.go:657 `base32.RawStdEncoding.EncodeToString([]byte(name))`: no padding, upper case.
    assert keystore_file(Path("/r"), "auth-jwt-private").name == "MF2XI2BNNJ3XILLQOJUXMYLUMU"
    assert keystore_file(Path("/r"), LIBP2P_KEY).name == "NRUWE4BSOAWWQ33TOQ"


def test_fresh_secret_replaces_the_production_one(tmp_path: Path) -> None:
    repo = tmp_path / "lotus"
    (repo / "keystore").mkdir(parents=True)
    old = keystore_file(repo, "auth-jwt-private")
    old.write_text(json.dumps({"Type": "jwt-hmac-secret", "PrivateKey": base64.b64encode(b"p" * 32).decode()}))
    (repo / "token").write_text("production-token")
    token = fresh_api_secret(repo, LocalFS())
    info = json.loads(old.read_text())
    secret = base64.b64decode(info["PrivateKey"])
    assert info["Type"] == "jwt-hmac-secret" and len(secret) == 32 and secret != b"p" * 32
    # node/repo/fsrepo.go:618-619,671: Lotus refuses a key file whose mode is looser than 0600.
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    assert stat.S_IMODE((repo / "token").stat().st_mode) == 0o600
    assert (repo / "token").read_text() == token
    header, payload, sig = token.split(".")
    expected = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(sig + "==") == expected
    # node/modules/core.go:163-166: the token Lotus writes beside a new secret allows api.AllPermissions.
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == {"Allow": ["read", "write", "sign", "admin"]}
    assert fresh_api_secret(repo, LocalFS()) != token  # fresh every drill


def test_admin_token_is_hs256() -> None:
    header = token_part(admin_token(b"k" * 32), 0)
    assert header == {"alg": "HS256", "typ": "JWT"}


def token_part(token: str, i: int) -> dict[str, object]:
    return dict(json.loads(base64.urlsafe_b64decode(token.split(".")[i] + "==")))


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/lotus-api is absent (CI always has it)")
def test_libp2p_isolated_in_the_real_default_config() -> None:
    text = (SHARED / "default-lotus-config.toml").read_text()
    doc = tomllib.loads(with_libp2p_isolated(text))
    # node/config/types.go Libp2p: ListenAddresses, AnnounceAddresses ([]string); port 0 = a random free port.
    assert doc["Libp2p"]["ListenAddresses"] == ["/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/0"]
    assert doc["Libp2p"]["AnnounceAddresses"] == []
    assert tomllib.loads(text).keys() == doc.keys()


def test_production_announce_and_listen_replaced() -> None:
    prod = ('[API]\n  ListenAddress = "/ip4/127.0.0.1/tcp/1234/http"\n[Libp2p]\n  ListenAddresses = [\n'
            '    "/ip4/0.0.0.0/tcp/24001",\n    "/ip6/::/tcp/24001",\n  ]\n'
            '  AnnounceAddresses = ["/ip4/203.0.113.7/tcp/24001"]\n  ConnMgrLow = 150\n[Chainstore]\n  X = 1\n')
    doc = tomllib.loads(with_libp2p_isolated(prod))
    assert doc["Libp2p"] == {"ListenAddresses": ["/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/0"], "AnnounceAddresses": [],
                             "ConnMgrLow": 150}
    assert doc["Chainstore"] == {"X": 1} and doc["API"]["ListenAddress"].endswith("/1234/http")


def test_section_added_when_missing() -> None:
    doc = tomllib.loads(set_section_keys("[API]\n  A = 1\n", "Libp2p", {"AnnounceAddresses": "[]"}))
    assert doc == {"API": {"A": 1}, "Libp2p": {"AnnounceAddresses": []}}


def test_isolate_repo_drops_the_production_peer_id(tmp_path: Path) -> None:
    repo = tmp_path / "lotus"
    (repo / "keystore").mkdir(parents=True)
    keystore_file(repo, LIBP2P_KEY).write_text('{"Type":"libp2p-host","PrivateKey":"AAAA"}')
    (repo / "config.toml").write_text('[Libp2p]\n  ListenAddresses = ["/ip4/0.0.0.0/tcp/1347"]\n')
    done, _ = isolate_repo(repo, LocalFS(), libp2p=True)
    # node/modules/lp2p/libp2p.go:34-56: with no `libp2p-host` key Lotus generates a new identity at start.
    assert not keystore_file(repo, LIBP2P_KEY).exists()
    assert done.dropped_libp2p_identity and "nothing announced" in done.summary()
    assert "1347" not in (repo / "config.toml").read_text()
