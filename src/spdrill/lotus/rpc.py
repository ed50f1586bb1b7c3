"""JSON-RPC 2.0 over HTTP POST to one Lotus endpoint, with Lotus's errors mapped at the boundary.

go-jsonrpc answers a call whose method failed with a JSON-RPC error body (HTTP 200 from the method's own
error, handler.go:422-476; HTTP 500 for a request it could not dispatch, server.go:141-149), and a token it
cannot verify with HTTP 401 (auth/handler.go:29-45); a token that lacks a permission gets the error
``missing permission to invoke '<M>'``. Every foreign error is translated here (``raise X from exc``) into the
spdrill tree (``spdrill.errors``):

    LotusUnreachableError   no answer: connection refused or reset, "Server disconnected", a timeout, a cut answer
    LotusResponseError      the API answered:
      LotusAuthError          HTTP 401, or "missing permission to invoke"
      LotusRPCError           a JSON-RPC error object
      LotusHTTPStatusError    another HTTP status without a JSON-RPC error (404, 502, ...)
      LotusDecodeError        not a JSON-RPC 2.0 answer, a wrong id; :class:`Fields` for a missing or mistyped field

A large answer is read with :meth:`RpcClient.stream`, an ordinary one with :meth:`RpcClient.call`; both map
errors the same way. Clients own one connection pool each: close them (``with FullNodeClient(info) as c:``).
The bearer token is a secret: it is sent in a header and scrubbed from anything that becomes a message.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

import httpx

from spdrill.errors import (
    InputError,
    LotusAuthError,
    LotusDecodeError,
    LotusHTTPStatusError,
    LotusResponseError,
    LotusRPCError,
    LotusUnreachableError,
)
from spdrill.lotus.apiinfo import ApiInfo
from spdrill.lotus.bitfield import Bitfield, decode_json

__all__ = ["ApiClient", "Fields", "RpcClient", "bad_field", "bitfield_of", "cid_of"]

log = logging.getLogger(__name__)

_PERMISSION_DENIED = "missing permission to invoke"
# The first key of the envelope that carries the answer: go-jsonrpc writes the keys sorted
# ({"id":1,"jsonrpc":"2.0","result":...}, response.go:16-35), older versions and the stand-in "jsonrpc" first.
# An "error": null beside a result (some servers send one) carries no error.
_ANSWER_KEY = re.compile(rb'(?P<result>"result"\s*:)|(?P<error>"error"\s*:(?!\s*null\b))')
_HEAD_LIMIT = 1 << 16  # an envelope's head is tens of bytes; past this, the body is no JSON-RPC answer
_ERROR_LIMIT = 1 << 24  # an error answer read whole to be mapped; one larger is no Lotus error


class RpcClient:
    """A synchronous JSON-RPC client for one Lotus endpoint (one httpx.Client, reused; close it)."""

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

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying HTTP connection pool; closing twice is harmless."""
        self._client.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (a closed client refuses calls)."""
        return self._client.is_closed

    def _scrub(self, text: str) -> str:
        """Remove the token from text that may end up in a message or a log line."""
        return text.replace(self._token, "<redacted>") if self._token else text

    def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        """Call ``Filecoin.<method>`` with positional ``params``; returns the decoded ``result``."""
        full = _full_name(method)
        request_id = next(self._ids)
        response = self._send(full, request_id, list(params), timeout, stream=False)
        return self._result(full, request_id, response.status_code, response.content)

    @contextmanager
    def stream(self, method: str, *params: Any, timeout: float | None = None,
               chunk_size: int = 1 << 20) -> Iterator[Iterator[bytes]]:
        """Call ``Filecoin.<method>`` and yield its answer's body as it arrives, for an incremental parser.

        The chunks are the whole JSON-RPC response, envelope included (``{"id":1,"jsonrpc":"2.0","result":
        [...]}``); whether the result inside is complete is for the parser to check, as only it reads the end.
        Errors map as :meth:`call` maps them: an HTTP error status, a JSON-RPC error object or a wrong envelope
        raise on entry, before any chunk is handed over; an answer that breaks off raises
        LotusUnreachableError from the iterator. ``timeout`` bounds each wait for the next bytes.
        """
        full = _full_name(method)
        request_id = next(self._ids)
        response = self._send(full, request_id, list(params), timeout, stream=True)
        try:
            chunks = self._chunks(full, response, chunk_size)
            head, found = b"", None
            for chunk in chunks:
                head += chunk
                found = _ANSWER_KEY.search(head)
                if found is not None or len(head) > _HEAD_LIMIT:
                    break
            if response.status_code == 200 and found is not None and found.lastgroup == "result":
                self._envelope(full, request_id, head[: found.start()] + b'"result":null}')
                yield itertools.chain((head,), chunks)
                return
            # An error, or no answer spdrill knows: read the rest (small) and let the ordinary mapping say which.
            for chunk in chunks:
                head += chunk
                if len(head) > _ERROR_LIMIT:
                    break
            self._result(full, request_id, response.status_code, head)
            yield iter((head,))  # a whole answer in an unusual envelope after all: one chunk
        finally:
            response.close()

    def call_list_bytes(self, method: str, *params: Any, timeout: float | None = None) -> bytes | Any:
        """Like :meth:`call`, but a list result comes back as its raw JSON bytes (for million-item lists).

        The envelope is still checked (JSON-RPC 2.0, matching id, no error); only the array itself is left
        undecoded. A result that is not a JSON array comes back decoded, as :meth:`call` returns it.
        """
        full = _full_name(method)
        request_id = next(self._ids)
        response = self._send(full, request_id, list(params), timeout, stream=False)
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
        return self._result(full, request_id, response.status_code, body)

    # -- the boundary: httpx and go-jsonrpc in, spdrill's errors out ---------------------------------------
    def _send(self, full: str, request_id: int, params: list[Any], timeout: float | None, *,
              stream: bool) -> httpx.Response:
        """POST one request; no answer becomes LotusUnreachableError. With ``stream`` the body is left unread."""
        body = {"jsonrpc": "2.0", "id": request_id, "method": full, "params": params}
        log.debug("calling %s at %s", full, self.url)
        request = self._client.build_request(
            "POST",
            self.url,
            content=json.dumps(body),
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )
        try:
            return self._client.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise self._translate(full, exc, timeout) from exc

    def _chunks(self, full: str, response: httpx.Response, chunk_size: int) -> Iterator[bytes]:
        try:
            yield from response.iter_bytes(chunk_size)
        except httpx.HTTPError as exc:
            raise self._translate(full, exc, None, midway=True) from exc

    def _translate(self, full: str, exc: httpx.HTTPError, timeout: float | None, *,
                   midway: bool = False) -> LotusUnreachableError | LotusDecodeError:
        """The spdrill error for an httpx one: no answer (refused, reset, disconnected, timeout) or a bad body."""
        kind = type(exc).__name__
        where = f"{full} at {self.url}"
        if isinstance(exc, httpx.TimeoutException):
            waited = self.timeout if timeout is None else timeout
            return LotusUnreachableError(
                f"{where}: no answer within {waited:g} s ({kind}); check that the Lotus process is up and not "
                "overloaded", method=full, url=self.url)
        said = self._scrub(str(exc))
        if midway and isinstance(exc, httpx.TransportError):
            return LotusUnreachableError(
                f"{where}: the answer broke off ({kind}: {said}); check that the Lotus process is still up",
                method=full, url=self.url)
        if isinstance(exc, httpx.ConnectError):
            return LotusUnreachableError(
                f"{where}: cannot reach the API ({kind}: {said}); check the address in *_API_INFO and that the "
                "Lotus process is running", method=full, url=self.url)
        if isinstance(exc, httpx.TransportError):  # RemoteProtocolError "Server disconnected", ReadError ...
            return LotusUnreachableError(
                f"{where}: the connection closed before an answer ({kind}: {said}); check that the Lotus "
                "process is still running", method=full, url=self.url)
        return LotusDecodeError(f"{where}: the answer could not be read ({kind}: {said})", method=full,
                                url=self.url)

    def _decode_error(self, full: str, what: str) -> LotusDecodeError:
        return LotusDecodeError(f"{full} at {self.url}: {what}", method=full, url=self.url)

    def _envelope(self, full: str, request_id: int, content: bytes) -> dict[str, Any]:
        """The decoded JSON-RPC 2.0 envelope of a 200 answer; LotusDecodeError when it is none, or not ours."""
        try:
            payload = json.loads(content)
        except ValueError:
            raise self._decode_error(full, "the answer is not JSON; is this a Lotus API endpoint?") from None
        if not isinstance(payload, dict) or payload.get("jsonrpc") != "2.0":
            raise self._decode_error(full, "HTTP 200 with a body that is not a JSON-RPC 2.0 response")
        if "id" in payload and payload["id"] != request_id:
            raise self._decode_error(
                full, f"response id {payload.get('id')!r} does not match request id {request_id}")
        return payload

    def _result(self, full: str, request_id: int, status: int, content: bytes) -> Any:
        """The ``result`` of an answer, or the error it stands for."""
        if status == 401:
            raise LotusAuthError(
                f"{full} at {self.url}: the API refused the token (HTTP 401); create a new one with "
                "`lotus auth api-info --perm read` (admin for CheckProvable/ComputeWindowPoSt)",
                method=full, url=self.url)
        if status != 200:
            try:
                payload = json.loads(content)
            except ValueError:
                payload = None
            if isinstance(payload, dict) and payload.get("jsonrpc") == "2.0" and payload.get("error") is not None:
                raise self._rpc_error(full, payload["error"])
            raise LotusHTTPStatusError(
                f"{full} at {self.url}: unexpected HTTP status {status}; expected 200 with a JSON-RPC body",
                status_code=status, method=full, url=self.url)
        payload = self._envelope(full, request_id, content)
        if payload.get("error") is not None:
            raise self._rpc_error(full, payload["error"])
        if "id" not in payload:
            raise self._decode_error(full, f"response id missing; expected {request_id}")
        if "result" not in payload:
            raise self._decode_error(full, "JSON-RPC response has neither result nor error")
        return payload["result"]

    def _rpc_error(self, full: str, error: object) -> LotusResponseError:
        if not isinstance(error, dict):
            return self._decode_error(full, "JSON-RPC 'error' is not an object")
        code = error.get("code")
        message = self._scrub(str(error.get("message", "")))
        if _PERMISSION_DENIED in message:
            return LotusAuthError(
                f"{full} at {self.url}: the token lacks a permission ({message}); "
                "use a token created with the permission named there", method=full, url=self.url)
        return LotusRPCError(full, code if type(code) is int else 0, message, url=self.url)


def _full_name(method: str) -> str:
    return method if "." in method else f"Filecoin.{method}"


_MISSING = object()


def bad_field(method: str, field: str, expected: str, found: object) -> LotusDecodeError:
    """The error for an answer whose ``field`` lacks or mistypes what spdrill needs; it names both."""
    shown = "missing" if found is _MISSING else f"got {type(found).__name__}"
    return LotusDecodeError(
        f"{method}: field {field}: expected {expected}, {shown}; is this a Lotus version whose API spdrill "
        "supports?", method=method, field=field)


class Fields:
    """Reads typed fields of one JSON object from the answer to ``method``; ``path`` names it in errors."""

    __slots__ = ("method", "obj", "path")

    def __init__(self, method: str, obj: object, path: str = "result") -> None:
        if not isinstance(obj, dict):
            raise bad_field(method, path, "an object", obj)
        self.method = method
        self.obj: dict[str, Any] = obj
        self.path = path

    def _get(self, name: str) -> Any:
        return self.obj.get(name, _MISSING)

    def _fail(self, name: str, expected: str, found: object) -> LotusDecodeError:
        return bad_field(self.method, f"{self.path}.{name}", expected, found)

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
        raise bad_field(method, path, f"a run-length bitfield ({exc})", value) from None


def cid_of(method: str, path: str, value: object) -> str:
    """The CID string inside Lotus's ``{"/": cid}`` JSON."""
    if type(value) is dict and type(value.get("/")) is str:
        return value["/"]  # type: ignore[no-any-return]
    raise bad_field(method, path, 'a CID object {"/": "..."}', value)


class ApiClient:
    """What the typed clients share: one RpcClient on their API path, a token-free repr, close().

    A client owns its connection pool: ``with FullNodeClient(info) as client:`` closes it on the way out;
    ``close()`` does the same and may be called twice.
    """

    api_path = "v0"

    def __init__(self, info: ApiInfo, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.rpc = RpcClient(info, self.api_path, timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.rpc!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool; closing twice is harmless."""
        self.rpc.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self.rpc.closed
