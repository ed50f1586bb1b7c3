"""The firewall's decision for one JSON-RPC message: forward it, answer it here, or refuse it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from spdrill.firewall.methods import canonical, is_refused, refused_names_in

# go-jsonrpc answers an application error with code 1 (handler.go:277 `var code ErrorCode = 1`).
REFUSAL_CODE = 1
PARSE_ERROR = -32700  # go-jsonrpc server.go:17 rpcParseError
WHY = "a drill standby must never sign or send anything on chain"


@dataclass(frozen=True)
class Call:
    """The fields of a request that decide its fate, read the way Go's encoding/json reads them."""

    method: str | None
    methods_named: tuple[str, ...]
    params: object
    has_id: bool
    id: object


@dataclass(frozen=True)
class Decision:
    """What to do with one message; `reply` is the local answer (None when forwarded or a notification)."""

    action: str  # "forward" | "answer" | "refuse"
    method: str
    reply: dict[str, Any] | None = None
    address: str = ""
    has_id: bool = True


FORWARD = Decision("forward", "", has_id=False)


class JsonObject(dict[str, Any]):
    """A parsed JSON object that remembers every key/value pair in order, duplicates included."""

    pairs: list[tuple[str, Any]]


def _pairs(pairs: list[tuple[str, Any]]) -> JsonObject:
    # Go matches JSON keys case-insensitively and the last one wins; keep them all to judge alike.
    obj = JsonObject(pairs)
    obj.pairs = pairs
    return obj


def parse(body: bytes | str) -> Any:
    """Parse a message as Go would see it; raises ValueError when it is not JSON at all."""
    # Go replaces invalid UTF-8 with U+FFFD and parses on; Python would refuse the whole body and
    # the filter would have nothing to look at, so decode the same lenient way.
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    return json.loads(text, object_pairs_hook=_pairs)


def read_call(obj: dict[str, Any]) -> Call:
    """The method, params and id of a request object, matching keys case-insensitively as Go does."""
    fields: dict[str, list[Any]] = {"method": [], "params": [], "id": []}
    pairs = obj.pairs if isinstance(obj, JsonObject) else list(obj.items())
    for key, value in pairs:
        low = key.lower()
        if low in fields:
            fields[low].append(value)
    named = tuple(v for v in fields["method"] if isinstance(v, str))
    last = fields["method"][-1] if fields["method"] else None
    return Call(
        method=last if isinstance(last, str) else None,
        methods_named=named,
        params=fields["params"][-1] if fields["params"] else None,
        has_id=bool(fields["id"]) and fields["id"][-1] is not None,
        id=fields["id"][-1] if fields["id"] else None,
    )


def address_key(address: str) -> str:
    """An address without its network prefix (f mainnet, t test networks), lower-cased."""
    address = address.strip().lower()
    return address[1:] if address[:1] in ("f", "t") else address


def refusal(method: str, request_id: object) -> dict[str, Any]:
    """The go-jsonrpc error response that refuses a call and names the fence."""
    message = f"spdrill chain firewall: {method} refused: {WHY}"
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": REFUSAL_CODE, "message": message}}


def decide(obj: Any, worker_keys: Iterable[str]) -> Decision:
    """Decide one request object (one element of a batch, or one WebSocket frame)."""
    if not isinstance(obj, dict):
        return FORWARD
    call = read_call(obj)
    # Refuse if any spelling of "method" names a refused call, not only the one Go would keep.
    for named in call.methods_named:
        if is_refused(named):
            name = canonical(named)
            return Decision("refuse", name, refusal(name, call.id) if call.has_id else None)
    method = canonical(call.method) if call.method is not None else ""
    if method != "WalletHas":
        return Decision("forward", method, has_id=call.has_id)
    params = call.params
    if isinstance(params, list) and len(params) == 1 and isinstance(params[0], str):
        wanted = address_key(params[0])
        if any(address_key(key) == wanted for key in worker_keys):
            reply = {"jsonrpc": "2.0", "id": call.id, "result": True} if call.has_id else None
            return Decision("answer", "WalletHas", reply, params[0])
    return Decision("forward", method, has_id=call.has_id)


def decide_unparsable(body: bytes) -> Decision:
    """A body that is not JSON is forwarded as is, unless it names a refused method anywhere."""
    named = refused_names_in(body.decode("utf-8", errors="replace"))
    if not named:
        return FORWARD
    reply = {"jsonrpc": "2.0", "id": None, "error": {"code": PARSE_ERROR, "message": "Parse error"}}
    return Decision("refuse", canonical(named[0]), reply)
