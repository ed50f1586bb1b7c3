"""Fixtures for the Lotus-boundary tests: the shared Lotus documents and a fake JSON-RPC endpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJBbGxvdyI6WyJyZWFkIl19.c2VjcmV0LXNpZ25hdHVyZS1ub3QtcmVhbA"


@pytest.fixture
def shared_dir() -> Path:
    """/work/shared (``../shared`` from the repo root); skips when the documents are absent."""
    if not (SHARED / "lotus-api").is_dir():
        pytest.skip(f"{SHARED} is absent: the Lotus documents and fixtures live there")
    return SHARED


@dataclass
class FakeLotus:
    """A JSON-RPC endpoint served through httpx.MockTransport; records every call."""

    results: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, list[Any], httpx.Headers, str]] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        method = body["method"].removeprefix("Filecoin.")
        self.calls.append((method, body["params"], request.headers, str(request.url)))
        answer = self.results.get(method)
        if callable(answer):
            return answer(request, body)  # type: ignore[no-any-return]
        if method not in self.results:
            error = {"code": -32601, "message": f"method 'Filecoin.{method}' not found"}
            return httpx.Response(500, json={"jsonrpc": "2.0", "id": body["id"], "error": error})
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": answer})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    @staticmethod
    def error(code: int, message: str, status: int = 500) -> Callable[[httpx.Request, Any], httpx.Response]:
        """A fake answer carrying a JSON-RPC error object, as go-jsonrpc sends it."""

        def answer(request: httpx.Request, body: Any) -> httpx.Response:
            err = {"code": code, "message": message}
            return httpx.Response(status, json={"jsonrpc": "2.0", "id": body["id"], "error": err})

        return answer


@pytest.fixture
def fake_lotus() -> FakeLotus:
    """A fresh fake endpoint; set ``results[method]`` to a value or a (request, body) -> Response."""
    return FakeLotus()


@pytest.fixture
def token() -> str:
    """A JWT-shaped secret the tests check never leaks into messages."""
    return TOKEN
