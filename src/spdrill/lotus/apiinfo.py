"""Lotus API-info strings (``TOKEN:/ip4/127.0.0.1/tcp/1234/http``) parsed as Lotus's ``ParseApiInfo`` does.

Lotus splits ``TOKEN:ADDR`` at the first ``:`` unless the string starts with ``/`` (a bare multiaddr) or
the ``:`` is followed by ``//`` (a bare URL); a comma separates several endpoints. ADDR is a multiaddr
(``/ip4``, ``/ip6``, ``/dns*``, ``/tcp``, then ``/http``, ``/ws``, ``/wss`` or ``/tls``) or a URL.
The token is a bearer secret: it is never shown by ``repr`` or put in an error message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from spdrill.errors import UsageError

__all__ = ["ApiInfo"]

# Lotus's own precedence (cli/util/api.go): env var, deprecated env var, then the repo's api/token files.
_SOURCES = {
    "fullnode": (("FULLNODE_API_INFO",), ("LOTUS_PATH",), "~/.lotus"),
    "miner": (
        ("MINER_API_INFO", "STORAGE_API_INFO"),
        ("LOTUS_MINER_PATH", "LOTUS_STORAGE_PATH"),
        "~/.lotusminer",
    ),
    "worker": (("WORKER_API_INFO",), ("LOTUS_WORKER_PATH", "WORKER_PATH"), "~/.lotusworker"),
}
_EXPECTED = "TOKEN:/ip4/127.0.0.1/tcp/1234/http, /dns/host/tcp/1234/http or a URL like http://host:1234"
_HOST_PROTOCOLS = {"ip4", "ip6", "dns", "dns4", "dns6"}
_TAIL_PROTOCOLS = {"http", "https", "ws", "wss", "tls"}
_SECURE = {"https", "wss", "tls"}


@dataclass(frozen=True, repr=False)
class ApiInfo:
    """One Lotus API endpoint: an optional bearer token and a multiaddr or URL."""

    token: str | None
    addr: str
    alternates: tuple[ApiInfo, ...] = field(default=(), compare=False)

    def __repr__(self) -> str:
        shown = "None" if self.token is None else "<redacted>"
        return f"ApiInfo(token={shown}, addr={self.addr!r})"

    __str__ = __repr__

    @classmethod
    def parse(cls, text: str, *, source: str = "API info") -> ApiInfo:
        """Parse an API-info string; the first of a comma-separated list, the rest in ``alternates``."""
        parts = [p.strip() for p in text.strip().split(",")]
        if not parts or not all(parts):
            raise UsageError(f"{source}: is empty or has an empty entry; expected {_EXPECTED}")
        infos = [cls._parse_one(p, source) for p in parts]
        first = infos[0]
        return cls(first.token, first.addr, tuple(infos[1:]))

    @classmethod
    def _parse_one(cls, text: str, source: str) -> ApiInfo:
        token: str | None = None
        addr = text
        colon = text.find(":")
        if not text.startswith("/") and colon >= 0 and not text.startswith("//", colon + 1):
            token, addr = text[:colon], text[colon + 1 :]
        info = cls(token or None, addr)
        info.http_url("v0", source=source)  # validate now, so a bad variable fails before any call
        return info

    @classmethod
    def from_env(cls, var: str, environ: dict[str, str] | None = None) -> ApiInfo:
        """Read ``FULLNODE_API_INFO``-style variable ``var`` (from ``environ``, default os.environ)."""
        env = os.environ if environ is None else environ
        value = env.get(var)
        if value is None or not value.strip():
            raise UsageError(f"{var} is not set; set it to {_EXPECTED} (`lotus auth api-info --perm read`)")
        return cls.parse(value, source=var)

    @classmethod
    def from_repo(cls, repo_dir: str | os.PathLike[str]) -> ApiInfo:
        """Read a Lotus repo's ``api`` (multiaddr) and ``token`` files, as the Lotus CLI does."""
        repo = Path(repo_dir)
        api_file = repo / "api"
        try:
            addr = api_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise UsageError(
                f"{api_file}: no such file; is the Lotus process for repo {repo} running? "
                "It writes this file on start; or set *_API_INFO instead"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"{api_file}: cannot be read ({type(exc).__name__}); expected a multiaddr"
            ) from None
        if not addr.startswith("/"):
            raise UsageError(f"{api_file}: expected a multiaddr like /ip4/127.0.0.1/tcp/1234/http")
        token_file = repo / "token"
        token: str | None = None
        try:
            token = token_file.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            token = None  # Lotus then calls with default (read) permission
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{token_file}: cannot be read ({type(exc).__name__})") from None
        info = cls(token, addr)
        info.http_url("v0", source=str(api_file))
        return info

    @classmethod
    def resolve(cls, kind: str, environ: dict[str, str] | None = None) -> ApiInfo:
        """Find the API of a ``fullnode``, ``miner`` or ``worker`` the way the Lotus CLI does."""
        if kind not in _SOURCES:
            raise UsageError(f"API kind {kind!r}: expected one of {', '.join(_SOURCES)}")
        env = os.environ if environ is None else environ
        variables, repo_vars, default_repo = _SOURCES[kind]
        for var in variables:
            if env.get(var, "").strip():
                return cls.from_env(var, dict(env))
        repo = next((env[v] for v in repo_vars if env.get(v, "").strip()), default_repo)
        return cls.from_repo(Path(repo).expanduser())

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header Lotus expects; empty without a token."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def http_url(self, version: str, *, source: str = "API info") -> str:
        """The HTTP JSON-RPC URL for ``version`` (``v0``/``v1``); WebSocket schemes map to HTTP(S)."""
        if self.addr.startswith("/"):
            host, port, secure = _multiaddr_host_port(self.addr, source)
            return f"{'https' if secure else 'http'}://{host}:{port}/rpc/{version}"
        try:
            url = urlsplit(self.addr)
            url.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise UsageError(f"{source}: the address is not a valid URL; expected {_EXPECTED}") from None
        scheme = {"ws": "http", "wss": "https", "http": "http", "https": "https"}.get(url.scheme)
        if scheme is None or not url.hostname:
            raise UsageError(
                f"{source}: the address is neither a multiaddr nor an http(s)/ws(s) URL; expected {_EXPECTED}"
            )
        return f"{scheme}://{url.netloc}{url.path.rstrip('/')}/rpc/{version}"


def _multiaddr_host_port(addr: str, source: str) -> tuple[str, int, bool]:
    """Split ``/ip4/H/tcp/P/http`` into host, port and whether TLS is asked for."""
    parts = addr.strip("/").split("/")
    if len(parts) < 4 or parts[0] not in _HOST_PROTOCOLS or parts[2] != "tcp":
        raise UsageError(
            f"{source}: the multiaddr must start /ip4|/ip6|/dns|/dns4|/dns6/<host>/tcp/<port>; "
            f"expected {_EXPECTED}"
        )
    host, port_text = parts[1], parts[3]
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"{source}: the multiaddr's TCP port must be 1..65535")
    tail = parts[4:]
    if any(p not in _TAIL_PROTOCOLS for p in tail):
        raise UsageError(
            f"{source}: the multiaddr may end only in /http, /https, /ws, /wss or /tls; expected {_EXPECTED}"
        )
    if parts[0] == "ip6":
        host = f"[{host}]"
    elif not host:
        raise UsageError(f"{source}: the multiaddr has an empty host")
    return host, int(port_text), any(p in _SECURE for p in tail)
