"""A real aiohttp stand-in for the Lotus daemon behind the chain firewall, for its tests and benchmark."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

UPSTREAM_TOKEN = "upstream-read-write-token-0123456789"
WORKER = "f3vvmn62lofvhjd2ugzca6sof2j2ubwok6cj4xxbfzz4yuxfkgobpihhd2thlanmsh3w2ptld2gqkn2jvlss4a"
CHANNEL_VALUES = 3


@dataclass
class Seen:
    """One request the daemon received: transport, path, Authorization header and the raw text."""

    transport: str
    path: str
    auth: str
    raw: str


@dataclass
class FakeDaemon:
    """A go-jsonrpc-shaped server on a real socket: HTTP POST and WebSocket on /rpc/v0, /rpc/v1."""

    seen: list[Seen] = field(default_factory=list)
    ws_opened: int = 0
    ws_closed: int = 0
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The base URL the firewall is given."""
        return f"http://127.0.0.1:{self.port}"

    def methods(self) -> list[str]:
        """Every method name that reached the daemon, batch elements included."""
        out: list[str] = []
        for s in self.seen:
            try:
                msg = json.loads(s.raw)
            except ValueError:
                continue
            for e in msg if isinstance(msg, list) else [msg]:
                if isinstance(e, dict) and isinstance(e.get("method"), str):
                    out.append(e["method"])
        return out

    @staticmethod
    def answer(req: dict[str, Any]) -> dict[str, Any]:
        """Echo the method; WalletHas is false, as on a key-free standby wallet."""
        result: Any = False if req.get("method") == "Filecoin.WalletHas" else {"echo": req.get("method")}
        return {"jsonrpc": "2.0", "id": req.get("id"), "result": result}

    async def _http(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Connection", "").lower().find("upgrade") >= 0:
            return await self._ws(request)
        raw = await request.text()
        self.seen.append(Seen("http", request.path, request.headers.get("Authorization", ""), raw))
        try:
            msg = json.loads(raw)
        except ValueError:
            return web.json_response(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}}
            )
        if isinstance(msg, list):
            return web.json_response([self.answer(e) for e in msg if e.get("id") is not None])
        return web.json_response(self.answer(msg))

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws_opened += 1
        auth = request.headers.get("Authorization", "")
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            self.seen.append(Seen("ws", request.path, auth, msg.data))
            req = json.loads(msg.data)
            if req.get("method") == "Filecoin.ChainNotify":
                # go-jsonrpc answers a channel call with its id, then streams values (websocket.go:214-221, 279-285).
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": 1}))
                for n in range(CHANNEL_VALUES):
                    change = [{"Type": "current" if n == 0 else "apply", "Val": {"Height": 100 + n}}]
                    await ws.send_str(json.dumps({"jsonrpc": "2.0", "method": "xrpc.ch.val", "params": [1, change]}))
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "method": "xrpc.ch.close", "params": [1]}))
            elif req.get("id") is not None:
                await ws.send_str(json.dumps(self.answer(req)))
        self.ws_closed += 1
        return ws

    def start(self) -> None:
        """Serve from a thread of its own, like a separate process would."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def open_() -> None:
            app = web.Application()
            app.router.add_route("*", "/rpc/{version}", self._http)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = int(self._runner.addresses[0][1])

        def run() -> None:
            assert self._loop is not None
            self._loop.run_until_complete(open_())
            ready.set()
            self._loop.run_forever()
            assert self._runner is not None
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
