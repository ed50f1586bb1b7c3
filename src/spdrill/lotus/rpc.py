"""JSON-RPC 2.0 over HTTP POST to one Lotus endpoint, with Lotus's errors mapped at the boundary.

go-jsonrpc answers a failed call with HTTP 500 and a JSON-RPC error body, and an unusable token with
HTTP 401; a token that lacks a permission gets the error ``missing permission to invoke '<M>'``.
Every foreign error is translated here (``raise X from exc``) into the spdrill tree:

    LotusTransportError   connection refused, timeout, unexpected HTTP status, a body that is not JSON-RPC
    LotusAuthError        HTTP 401, or "missing permission to invoke"
    LotusRPCError         a JSON-RPC error object came back

The bearer token is a secret: it is sent in a header and scrubbed from anything that becomes a message.
Answers are read with :class:`Fields`: a missing or mistyped field raises :class:`LotusResponseError`
naming the method and the field, never a KeyError.
"""

from __future__ import annotations

import itertools
import json
import logging
from types import TracebackType
from typing import Any

import httpx

from spdrill.errors import InputError, LotusAuthError, LotusError, LotusRPCError, LotusTransportError
from spdrill.lotus.apiinfo import ApiInfo
from spdrill.lotus.bitfield import Bitfield, decode_json

__all__ = ["Fields", "LotusResponseError", "RpcClient", "bitfield_of", "cid_of"]

log = logging.getLogger(__name__)

_PERMISSION_DENIED = "missing permission to invoke"


class RpcClient:
    """A synchronous JSON-RPC client for one Lotus endpoint (one httpx.Client, reused)."""

    def __init__(
        self,
        info: ApiInfo,
        version: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = info.http_url(version)
        self.timeout = timeout
        self._token = info.token
        self._ids = itertools.count(1)
        self._client = httpx.Client(
            headers={"Content-Type": "application/json", **info.auth_headers()},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"RpcClient(url={self.url!r}, token={'<redacted>' if self._token else None})"

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying HTTP connection pool."""
        self._client.close()

    def _scrub(self, text: str) -> str:
        """Remove the token from text that may end up in a message or a log line."""
        return text.replace(self._token, "<redacted>") if self._token else text

    def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        """Call ``Filecoin.<method>`` with positional ``params``; returns the decoded ``result``."""
        full = method if "." in method else f"Filecoin.{method}"
        request_id = next(self._ids)
        response = self._post(full, request_id, list(params), timeout)
        return self._result(full, request_id, response)

    def _post(self, full: str, request_id: int, params: list[Any], timeout: float | None) -> httpx.Response:
        """POST one request; transport failures become LotusTransportError."""
        body = {"jsonrpc": "2.0", "id": request_id, "method": full, "params": params}
        log.debug("calling %s at %s", full, self.url)
        try:
            response = self._client.post(
                self.url,
                content=json.dumps(body),
                timeout=httpx.USE_CLIENT_DEFAULT
                if timeout is None
                else httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            )
        except httpx.TimeoutException as exc:
            waited = self.timeout if timeout is None else timeout
            raise LotusTransportError(
                f"{full} at {self.url}: no answer within {waited:g} s ({type(exc).__name__}); "
                "check that the Lotus process is up and not overloaded"
            ) from exc
        except httpx.HTTPError as exc:
            raise LotusTransportError(
                f"{full} at {self.url}: cannot reach the API "
                f"({type(exc).__name__}: {self._scrub(str(exc))}); "
                "check the address in *_API_INFO and that the Lotus process is running"
            ) from exc
        return response

    def call_list_bytes(self, method: str, *params: Any, timeout: float | None = None) -> bytes | Any:
        """Like :meth:`call`, but a list result comes back as its raw JSON bytes (for million-item lists).

        The envelope is still checked (JSON-RPC 2.0, matching id, no error); only the array itself is left
        undecoded. A result that is not a JSON array comes back decoded, as :meth:`call` returns it.
        """
        full = method if "." in method else f"Filecoin.{method}"
        request_id = next(self._ids)
        response = self._post(full, request_id, list(params), timeout)
        body = response.content
        start, end = body.find(b'"result":['), body.rfind(b"]")
        # Only a flat array (no nested '[' or ']') is handed back raw: the slice is then exactly the result.
        if response.status_code == 200 and 0 <= start < end and body.count(b"[", start, end + 1) == 1:
            try:
                envelope = json.loads(body[:start] + b'"result":null' + body[end + 1 :])
            except ValueError:
                envelope = None
            if (
                isinstance(envelope, dict)
                and envelope.get("jsonrpc") == "2.0"
                and envelope.get("id") == request_id
                and envelope.get("error") is None
            ):
                return body[start + 9 : end + 1]
        return self._result(full, request_id, response)

    def _result(self, method: str, request_id: int, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 401:
            raise LotusAuthError(
                f"{method} at {self.url}: the API refused the token (HTTP 401); create a new one with "
                "`lotus auth api-info --perm read` (admin for CheckProvable/ComputeWindowPoSt)"
            )
        try:
            payload = response.json()
        except ValueError as exc:
            if status != 200:
                raise LotusTransportError(
                    f"{method} at {self.url}: unexpected HTTP status {status}; "
                    "expected 200 with a JSON-RPC body"
                ) from exc
            raise LotusTransportError(
                f"{method} at {self.url}: the answer is not JSON; is this a Lotus API endpoint?"
            ) from exc
        if not isinstance(payload, dict) or payload.get("jsonrpc") != "2.0":
            raise LotusTransportError(
                f"{method} at {self.url}: HTTP {status} with a body that is not a JSON-RPC 2.0 response"
            )
        error = payload.get("error")
        if error is not None:
            raise self._rpc_error(method, error)
        if status != 200:
            raise LotusTransportError(f"{method} at {self.url}: unexpected HTTP status {status}")
        if payload.get("id") != request_id:
            raise LotusTransportError(
                f"{method} at {self.url}: response id {payload.get('id')!r} "
                f"does not match request id {request_id}"
            )
        if "result" not in payload:
            raise LotusTransportError(
                f"{method} at {self.url}: JSON-RPC response has neither result nor error"
            )
        return payload["result"]

    def _rpc_error(self, method: str, error: object) -> Exception:
        if not isinstance(error, dict):
            return LotusTransportError(f"{method} at {self.url}: JSON-RPC 'error' is not an object")
        code = error.get("code")
        message = self._scrub(str(error.get("message", "")))
        if _PERMISSION_DENIED in message:
            return LotusAuthError(
                f"{method} at {self.url}: the token lacks a permission ({message}); "
                "use a token created with the permission named there"
            )
        return LotusRPCError(method, code if type(code) is int else 0, message)


class LotusResponseError(LotusError):
    """A Lotus answer lacks a field spdrill needs, or the field has the wrong type."""

    def __init__(self, method: str, field: str, expected: str, found: object) -> None:
        self.method = method
        self.field = field
        shown = "missing" if found is _MISSING else f"got {type(found).__name__}"
        super().__init__(
            f"{method}: field {field}: expected {expected}, {shown}; "
            "is this a Lotus version whose API spdrill supports?"
        )


_MISSING = object()


class Fields:
    """Reads typed fields of one JSON object from the answer to ``method``; ``path`` names it in errors."""

    __slots__ = ("method", "obj", "path")

    def __init__(self, method: str, obj: object, path: str = "result") -> None:
        if not isinstance(obj, dict):
            raise LotusResponseError(method, path, "an object", obj)
        self.method = method
        self.obj: dict[str, Any] = obj
        self.path = path

    def _get(self, name: str) -> Any:
        return self.obj.get(name, _MISSING)

    def _fail(self, name: str, expected: str, found: object) -> LotusResponseError:
        return LotusResponseError(self.method, f"{self.path}.{name}", expected, found)

    def integer(self, name: str) -> int:
        """An integer field (JSON number, not a bool)."""
        v = self._get(name)
        if type(v) is not int:
            raise self._fail(name, "an integer", v)
        return v

    def number(self, name: str) -> float:
        """A number field."""
        v = self._get(name)
        if type(v) not in (int, float):
            raise self._fail(name, "a number", v)
        return float(v)

    def boolean(self, name: str) -> bool:
        """A boolean field."""
        v = self._get(name)
        if type(v) is not bool:
            raise self._fail(name, "true or false", v)
        return v

    def string(self, name: str) -> str:
        """A string field."""
        v = self._get(name)
        if type(v) is not str:
            raise self._fail(name, "a string", v)
        return v

    def opt_string(self, name: str) -> str | None:
        """A string field that may be null or absent."""
        v = self._get(name)
        if v is _MISSING or v is None:
            return None
        return self.string(name)

    def big(self, name: str) -> int:
        """A big int, sent by Lotus as a decimal string."""
        v = self._get(name)
        if type(v) is str:
            try:
                return int(v)
            except ValueError:
                pass
        raise self._fail(name, "a decimal string (big int)", v)

    def cid(self, name: str) -> str:
        """A CID, sent as ``{"/": "bafy..."}``."""
        return cid_of(self.method, f"{self.path}.{name}", self._get(name))

    def array(self, name: str, *, nullable: bool = False) -> list[Any]:
        """A list field; null counts as empty when ``nullable``."""
        v = self._get(name)
        if nullable and v is None:
            return []
        if type(v) is not list:
            raise self._fail(name, "a list", v)
        return v

    def strings(self, name: str, *, nullable: bool = False) -> tuple[str, ...]:
        """A list of strings."""
        items = self.array(name, nullable=nullable)
        if not all(type(s) is str for s in items):
            raise self._fail(name, "a list of strings", items)
        return tuple(items)

    def nested(self, name: str) -> Fields:
        """A nested object."""
        return Fields(self.method, self._get(name), f"{self.path}.{name}")

    def bitfield(self, name: str) -> Bitfield:
        """A bitfield in its JSON run-length form."""
        return bitfield_of(self.method, f"{self.path}.{name}", self._get(name))


def bitfield_of(method: str, path: str, value: object) -> Bitfield:
    """A bitfield in Lotus's JSON run-length form."""
    try:
        return decode_json(value, what=path)
    except InputError as exc:
        raise LotusResponseError(method, path, f"a run-length bitfield ({exc})", value) from None


def cid_of(method: str, path: str, value: object) -> str:
    """The CID string inside Lotus's ``{"/": cid}`` JSON."""
    if type(value) is dict and type(value.get("/")) is str:
        return value["/"]  # type: ignore[no-any-return]
    raise LotusResponseError(method, path, 'a CID object {"/": "..."}', value)


class ApiClient:
    """What the typed clients share: one RpcClient on their API path, a token-free repr, close()."""

    api_path = "v0"

    def __init__(self, info: ApiInfo, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.rpc = RpcClient(info, self.api_path, timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.rpc!r})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.rpc.close()
