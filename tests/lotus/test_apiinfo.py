"""API-info strings parsed as Lotus's ParseApiInfo does, with the token never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from spdrill.errors import UsageError
from spdrill.lotus.apiinfo import ApiInfo


@pytest.mark.parametrize(
    ("text", "has_token", "addr", "url"),
    [
        (
            "TOKEN:/ip4/127.0.0.1/tcp/1234/http",
            True,
            "/ip4/127.0.0.1/tcp/1234/http",
            "http://127.0.0.1:1234/rpc/v1",
        ),
        ("/ip4/10.0.0.5/tcp/2345/http", False, "/ip4/10.0.0.5/tcp/2345/http", "http://10.0.0.5:2345/rpc/v1"),
        (
            "TOKEN:/dns/lotus.example/tcp/1234/http",
            True,
            "/dns/lotus.example/tcp/1234/http",
            "http://lotus.example:1234/rpc/v1",
        ),
        ("TOKEN:/dns4/lotus/tcp/1234/ws", True, "/dns4/lotus/tcp/1234/ws", "http://lotus:1234/rpc/v1"),
        ("TOKEN:/ip6/::1/tcp/1234/http", True, "/ip6/::1/tcp/1234/http", "http://[::1]:1234/rpc/v1"),
        ("TOKEN:/dns/node/tcp/443/wss", True, "/dns/node/tcp/443/wss", "https://node:443/rpc/v1"),
        ("TOKEN:/dns/node/tcp/443/tls/http", True, "/dns/node/tcp/443/tls/http", "https://node:443/rpc/v1"),
        ("/ip4/127.0.0.1/tcp/1234", False, "/ip4/127.0.0.1/tcp/1234", "http://127.0.0.1:1234/rpc/v1"),
        ("http://127.0.0.1:1234", False, "http://127.0.0.1:1234", "http://127.0.0.1:1234/rpc/v1"),
        ("ws://lotus:1234/", False, "ws://lotus:1234/", "http://lotus:1234/rpc/v1"),
        ("wss://lotus.example", False, "wss://lotus.example", "https://lotus.example/rpc/v1"),
        ("TOKEN:https://glif.example/", True, "https://glif.example/", "https://glif.example/rpc/v1"),
    ],
)
def test_parse_forms(text: str, has_token: bool, addr: str, url: str) -> None:
    info = ApiInfo.parse(text)
    assert (info.token == "TOKEN") is has_token and (info.token is None) is not has_token
    assert info.addr == addr
    assert info.http_url("v1") == url


def test_real_jwt_and_version(token: str) -> None:
    info = ApiInfo.parse(f"{token}:/ip4/127.0.0.1/tcp/2345/http")
    assert info.token == token
    assert info.http_url("v0") == "http://127.0.0.1:2345/rpc/v0"
    assert info.auth_headers() == {"Authorization": f"Bearer {token}"}
    assert ApiInfo.parse("/ip4/127.0.0.1/tcp/1/http").auth_headers() == {}


def test_comma_separated_list_keeps_the_rest() -> None:
    info = ApiInfo.parse("A:/ip4/10.0.0.1/tcp/1234/http,B:/ip4/10.0.0.2/tcp/1234/http")
    assert info.token == "A" and info.addr == "/ip4/10.0.0.1/tcp/1234/http"
    assert [(a.token, a.addr) for a in info.alternates] == [("B", "/ip4/10.0.0.2/tcp/1234/http")]


def test_repr_never_shows_the_token(token: str) -> None:
    info = ApiInfo.parse(f"{token}:/ip4/127.0.0.1/tcp/1234/http,{token}:/ip4/127.0.0.2/tcp/1234/http")
    for text in (repr(info), str(info), f"{info}", repr(info.alternates), repr([info])):
        assert token not in text
    assert "token=<redacted>" in repr(info)
    assert "token=None" in repr(ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http"))


@pytest.mark.parametrize(
    "text",
    [
        "SECRETTOKEN",  # no address at all: the whole value would be the address
        "SECRETTOKEN:",
        "SECRETTOKEN:/ip4/127.0.0.1/udp/1234",
        "SECRETTOKEN:/ip4/127.0.0.1/tcp/99999/http",
        "SECRETTOKEN:/ip4/127.0.0.1/tcp/1234/quic",
        "SECRETTOKEN:/unix/run/lotus.sock",
        "SECRETTOKEN:ftp://host:21",
        "SECRETTOKEN:http://host:notaport",
        "",
        "a:/ip4/1.2.3.4/tcp/1/http,,",
    ],
)
def test_bad_values_name_the_variable_and_never_echo_the_token(text: str) -> None:
    with pytest.raises(UsageError) as err:
        ApiInfo.from_env("FULLNODE_API_INFO", {"FULLNODE_API_INFO": text})
    message = str(err.value)
    assert "FULLNODE_API_INFO" in message and "SECRETTOKEN" not in message
    assert "/ip4/127.0.0.1/tcp/1234/http" in message or "port" in message or "not set" in message


def test_from_env_unset() -> None:
    with pytest.raises(UsageError, match="MINER_API_INFO is not set.*lotus auth api-info"):
        ApiInfo.from_env("MINER_API_INFO", {})


def test_from_env_reads_the_environment(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv("WORKER_API_INFO", f"{token}:/ip4/127.0.0.1/tcp/3456/http")
    assert ApiInfo.from_env("WORKER_API_INFO").http_url("v0") == "http://127.0.0.1:3456/rpc/v0"


def test_from_repo(tmp_path: Path, token: str) -> None:
    (tmp_path / "api").write_text("/ip4/127.0.0.1/tcp/1234/http\n")
    (tmp_path / "token").write_text(token + "\n")
    info = ApiInfo.from_repo(tmp_path)
    assert info.token == token and info.http_url("v1") == "http://127.0.0.1:1234/rpc/v1"
    (tmp_path / "token").unlink()
    assert ApiInfo.from_repo(tmp_path).token is None  # Lotus then grants read only


def test_from_repo_without_api_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"api: no such file; is the Lotus process .* running"):
        ApiInfo.from_repo(tmp_path)


def test_from_repo_with_garbage_api_file(tmp_path: Path, token: str) -> None:
    (tmp_path / "api").write_text(token)
    (tmp_path / "token").write_text(token)
    with pytest.raises(UsageError) as err:
        ApiInfo.from_repo(tmp_path)
    assert token not in str(err.value) and "expected a multiaddr" in str(err.value)


def test_resolve_prefers_the_variable_then_the_deprecated_one(tmp_path: Path) -> None:
    env = {
        "MINER_API_INFO": "A:/ip4/127.0.0.1/tcp/2345/http",
        "STORAGE_API_INFO": "B:/ip4/10.0.0.1/tcp/1/http",
    }
    assert ApiInfo.resolve("miner", env).token == "A"
    del env["MINER_API_INFO"]
    assert ApiInfo.resolve("miner", env).token == "B"


def test_resolve_falls_back_to_the_repo(tmp_path: Path) -> None:
    (tmp_path / "api").write_text("/ip4/127.0.0.1/tcp/3456/http")
    info = ApiInfo.resolve("worker", {"LOTUS_WORKER_PATH": str(tmp_path)})
    assert info.http_url("v0") == "http://127.0.0.1:3456/rpc/v0" and info.token is None
    with pytest.raises(UsageError, match="no such file"):
        ApiInfo.resolve("fullnode", {"LOTUS_PATH": str(tmp_path / "missing")})
    with pytest.raises(UsageError, match="expected one of fullnode, miner, worker"):
        ApiInfo.resolve("gateway", {})
