"""The firewall's aiohttp handlers: HTTP POST and WebSocket on /rpc/vN, filtered, relayed upstream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from spdrill.firewall.report import Recorder
from spdrill.firewall.rules import Decision, decide, decide_unparsable, parse
from spdrill.redact import redact

log = logging.getLogger("spdrill.firewall")

# go-jsonrpc accepts requests up to 100 MiB (handler.go:66 DEFAULT_MAX_REQUEST_SIZE); so do we.
MAX_REQUEST = 100 << 20
JSON = "application/json"


@dataclass(frozen=True)
class Triage:
    """A message split into what the firewall answers itself and what goes upstream."""

    decisions: tuple[Decision, ...]
    elements: tuple[Any, ...]
    batch: bool
    parsed: bool

    @property
    def all_forward(self) -> bool:
        """Nothing to answer locally: the raw message can go upstream unchanged."""
        return all(d.action == "forward" for d in self.decisions)

    def forwarded(self) -> list[Any]:
        """The elements that go upstream."""
        return [e for e, d in zip(self.elements, self.decisions, strict=True) if d.action == "forward"]

    def replies(self) -> list[dict[str, Any]]:
        """The local answers (refusals and WalletHas), notifications excepted."""
        return [d.reply for d in self.decisions if d.reply is not None]


def encode(value: Any) -> bytes:
    """JSON the way go-jsonrpc writes it: json.Encoder adds a newline (handler.go:470)."""
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


class Relay:
    """Holds the upstream session and the open WebSockets; serves /rpc/{version}."""

    def __init__(self, upstream: str, upstream_token: str, token: str, worker_keys: frozenset[str], recorder: Recorder):
        self._http_base = upstream
        self._ws_base = "ws" + upstream[len("http") :] if upstream.startswith("http") else upstream
        self._upstream_auth = {"Authorization": f"Bearer {upstream_token}"}
        self._token = token
        self._keys = worker_keys
        self._recorder = recorder
        self._session: aiohttp.ClientSession | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    def app(self) -> web.Application:
        """The aiohttp application; go-jsonrpc serves POST and WebSocket on the same path (server.go:123)."""
        app = web.Application(client_max_size=MAX_REQUEST)
        app.router.add_route("*", "/rpc/{version:v[0-9]+}", self.handle)
        return app

    async def open(self) -> None:
        """Create the upstream session inside the serving loop."""
        # No total timeout: StateWaitMsg and channel calls legitimately take as long as the chain does.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        self._session = aiohttp.ClientSession(timeout=timeout, auto_decompress=False)

    async def close(self) -> None:
        """Close every client WebSocket (their handlers then close the upstream ones) and the session."""
        for ws in list(self._sockets):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"chain firewall stopping")
        if self._session is not None:
            await self._session.close()

    def _authorised(self, request: web.Request) -> bool:
        # Same places go-jsonrpc's auth handler looks: the header, else a `token` form value (auth/handler.go:21-26).
        header = request.headers.get("Authorization", "")
        given = header[len("Bearer ") :] if header.startswith("Bearer ") else request.query.get("token", "")
        return bool(given) and secrets.compare_digest(given.encode(), self._token.encode())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Authorise, then relay as WebSocket (an Upgrade request, server.go:123-128) or HTTP POST."""
        if not self._authorised(request):
            return web.Response(status=401)
        if "upgrade" in request.headers.get("Connection", "").lower():
            return await self._websocket(request)
        if request.method != "POST":
            return web.Response(status=405)
        return await self._post(request)

    def triage(self, raw: bytes | str) -> Triage:
        """Decide every request in a message and record what was decided."""
        try:
            msg = parse(raw)
        except ValueError:
            body = raw.encode() if isinstance(raw, str) else raw
            decision = decide_unparsable(body)
            self._record(decision)
            return Triage((decision,), (None,), batch=False, parsed=False)
        elements = tuple(msg) if isinstance(msg, list) else (msg,)
        decisions = tuple(decide(e, self._keys) for e in elements)
        for decision in decisions:
            self._record(decision)
        return Triage(decisions, elements, batch=isinstance(msg, list), parsed=True)

    def _record(self, decision: Decision) -> None:
        if decision.action == "refuse":
            log.warning("chain firewall refused %s from the standby", decision.method)
            self._recorder.refused(decision.method)
        elif decision.action == "answer":
            self._recorder.answered(decision.address)
        else:
            self._recorder.forwarded(decision.method)

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.read()
        triage = self.triage(body)
        if triage.all_forward:
            return await self._upstream_post(request.path, body)
        if not triage.batch:
            reply = triage.replies()
            # A notification gets no answer (go-jsonrpc handler.go:408-410).
            return web.Response(body=encode(reply[0]) if reply else b"", content_type=JSON)
        return await self._batch(request.path, triage)

    async def _batch(self, path: str, triage: Triage) -> web.Response:
        """Answer the local elements of a batch, send the rest upstream, merge in request order."""
        upstream: list[Any] = []
        forwarded = triage.forwarded()
        if forwarded:
            response = await self._upstream_post(path, encode(forwarded))
            try:
                parsed = json.loads(response.body) if isinstance(response.body, bytes) else None
            except ValueError:
                parsed = None
            if not isinstance(parsed, list):
                return response  # upstream refused the batch as a whole; the local answers add nothing
            upstream = parsed
        merged: list[Any] = []
        pending = iter(upstream)
        # go-jsonrpc answers batch elements in order (handler.go:207-216).
        for decision in triage.decisions:
            if decision.action == "forward":
                # A forwarded notification has no answer to take (handler.go:408-410).
                if decision.has_id and (answer := next(pending, None)) is not None:
                    merged.append(answer)
            elif decision.reply is not None:
                merged.append(decision.reply)
        merged.extend(pending)
        return web.Response(body=encode(merged), content_type=JSON)

    async def _upstream_post(self, path: str, body: bytes) -> web.Response:
        assert self._session is not None
        headers = {**self._upstream_auth, "Content-Type": JSON}
        try:
            async with self._session.post(self._http_base + path, data=body, headers=headers) as resp:
                data = await resp.read()
                kind = resp.headers.get("Content-Type", JSON)
                return web.Response(status=resp.status, body=data, headers={"Content-Type": kind})
        except aiohttp.ClientError as exc:
            log.warning("chain firewall: upstream %s unreachable: %s", redact(self._http_base), redact(str(exc)))
            return web.Response(status=502, text="chain firewall: upstream daemon unreachable\n")

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        """One upstream WebSocket per client WebSocket; frames relayed both ways, requests filtered."""
        assert self._session is not None
        try:
            upstream = await self._session.ws_connect(
                self._ws_base + request.path, headers=self._upstream_auth, max_msg_size=0
            )
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("chain firewall: upstream WebSocket %s failed: %s", redact(self._ws_base), redact(str(exc)))
            return web.Response(status=502, text="chain firewall: upstream daemon unreachable\n")
        client = web.WebSocketResponse(max_msg_size=0)
        self._sockets.add(client)
        try:
            await client.prepare(request)
            tasks = {
                asyncio.create_task(self._from_upstream(upstream, client)),
                asyncio.create_task(self._from_client(client, upstream)),
            }
            _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        finally:
            self._sockets.discard(client)
            await upstream.close()
            await client.close()
        return client

    async def _from_upstream(self, upstream: aiohttp.ClientWebSocketResponse, client: web.WebSocketResponse) -> None:
        # Results, xrpc.ch.val / xrpc.ch.close notifications and reverse calls pass unchanged.
        async for msg in upstream:
            if msg.type is aiohttp.WSMsgType.TEXT:
                await client.send_str(msg.data)
            elif msg.type is aiohttp.WSMsgType.BINARY:
                await client.send_bytes(msg.data)
            else:
                break

    async def _from_client(self, client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
        # go-jsonrpc reads both text and binary frames as requests (websocket.go:125), so filter both.
        async for msg in client:
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                break
            data: str | bytes = msg.data
            triage = self.triage(data)
            for reply in triage.replies():
                await client.send_str(encode(reply).decode())
            if triage.all_forward:
                await (upstream.send_str(data) if isinstance(data, str) else upstream.send_bytes(data))
            elif triage.batch and triage.forwarded():
                await upstream.send_str(encode(triage.forwarded()).decode())
