"""A small JSON-RPC client (HTTP POST or WebSocket) and Lotus API-info parsing for the stand-in's programs."""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lotus_sim.wsclient import Subscription, WsTransport

__all__ = ["ApiInfo", "CallError", "RpcClient", "api_info_from", "multiaddr_for", "parse_api_info"]

_MULTIADDR = re.compile(r"^/(ip4|ip6|dns|dns4|dns6)/([^/]+)/tcp/(\d+)(?:/(http|https|ws|wss))?/?$")


class CallError(Exception):
    """A failed call: the server could not be reached, refused the token, or returned an error."""

    def __init__(self, message: str, *, status: int = 0, code: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class ApiInfo:
    """A parsed `TOKEN:MULTIADDR` value: the token (may be empty) and the HTTP base URL."""

    token: str
    base_url: str

    def url(self, version: str = "v0") -> str:
        """Return the HTTP RPC endpoint URL for an API version (`v0`, `v1`)."""
        return f"{self.base_url}/rpc/{version}"

    def dial_args(self, version: str = "v0") -> str:
        """The URL Lotus's clients dial: ws:// (wss:// for TLS), as cli/util/apiinfo.go:50-75 DialArgs."""
        scheme, rest = self.base_url.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/rpc/{version}"


def multiaddr_for(host: str, port: int) -> str:
    """Return the multiaddr Lotus writes to a repo's `api` file."""
    return f"/ip4/{host}/tcp/{port}/http"


def parse_api_info(value: str) -> ApiInfo:
    """Parse `TOKEN:ADDR` as Lotus's ParseApiInfo does; ADDR is a multiaddr or an http URL."""
    token, addr = "", value.strip()
    if not (addr.startswith("/") or addr.startswith("http://") or addr.startswith("https://")):
        token, _, addr = addr.partition(":")
    if addr.startswith("http://") or addr.startswith("https://"):
        return ApiInfo(token, addr.rstrip("/").removesuffix("/rpc/v0").removesuffix("/rpc/v1"))
    match = _MULTIADDR.match(addr)
    if not match:
        raise ValueError(f"API address {addr!r} is not a multiaddr like /ip4/127.0.0.1/tcp/1234/http")
    _, host, port, proto = match.groups()
    scheme = "https" if proto in ("https", "wss") else "http"
    return ApiInfo(token, f"{scheme}://{host}:{port}")


def api_info_from(env_var: str, repo: Path | None) -> ApiInfo:
    """Resolve API info as the Lotus CLI does: the env var first, then the repo's `api` + `token` files."""
    value = os.environ.get(env_var)
    if value:
        return parse_api_info(value)
    if repo is None or not (repo / "api").is_file():
        where = f"{repo}/api" if repo else "a repo"
        raise CallError(f"could not get API info: set {env_var} or start the node so that {where} exists")
    token = (repo / "token").read_text().strip() if (repo / "token").is_file() else ""
    return parse_api_info(f"{token}:{(repo / 'api').read_text().strip()}")


class RpcClient:
    """Calls `Filecoin.<Method>` on one endpoint with an optional Bearer token.

    An http:// URL makes each call one POST; a ws:// URL keeps one WebSocket connection for every call and
    subscription, dialled at the first call and dialled again at the next call after it drops.
    """

    def __init__(self, url: str, token: str = "", timeout: float = 30.0) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout
        self._next_id = 0
        self._ws: WsTransport | None = None
        self._ws_lock = threading.Lock()

    @property
    def websocket(self) -> bool:
        """Whether calls go over WebSocket."""
        return self.url.startswith(("ws://", "wss://"))

    def _transport(self) -> WsTransport:
        from lotus_sim.wsclient import WsError, WsTransport

        with self._ws_lock:
            if self._ws is None or not self._ws.alive:
                try:
                    self._ws = WsTransport(self.url, self.token, self.timeout)
                except WsError as exc:
                    raise CallError(str(exc), status=exc.status) from exc
            return self._ws

    def call(self, method: str, *params: Any) -> Any:
        """Call a method and return its result; raise CallError on any failure."""
        if self.websocket:
            from lotus_sim.wsclient import WsError

            try:
                return self._transport().call(f"Filecoin.{method}", list(params))
            except WsError as exc:
                raise CallError(str(exc), status=exc.status, code=exc.code) from exc
        return self._post(method, list(params))

    def subscribe(self, method: str, *params: Any) -> Subscription:
        """Call a channel method (WebSocket only, as in go-jsonrpc); raise CallError on failure."""
        from lotus_sim.wsclient import WsError

        if not self.websocket:
            raise CallError(f"{self.url}: channel methods need a ws:// endpoint")
        try:
            return self._transport().subscribe(f"Filecoin.{method}", list(params))
        except WsError as exc:
            raise CallError(str(exc), status=exc.status, code=exc.code) from exc

    def close(self) -> None:
        """Close the WebSocket connection, if any."""
        with self._ws_lock:
            if self._ws is not None:
                self._ws.close()
                self._ws = None

    def _post(self, method: str, params: list[Any]) -> Any:
        self._next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._next_id, "method": f"Filecoin.{method}",
                           "params": params}).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise CallError(f"{self.url}: token rejected (HTTP 401)", status=401) from exc
            try:
                payload = json.loads(exc.read())
            except ValueError:
                raise CallError(f"{self.url}: HTTP {exc.code}", status=exc.code) from exc
            error = payload.get("error") or {}
            raise CallError(str(error.get("message", f"HTTP {exc.code}")), status=exc.code,
                            code=int(error.get("code", 0))) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise CallError(f"{self.url}: {getattr(exc, 'reason', exc)}") from exc
        if "error" in payload and payload["error"]:
            raise CallError(str(payload["error"].get("message")), status=200)
        return payload.get("result")
