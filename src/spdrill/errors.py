"""The spdrill exception tree: one base, a few branches, each mapped to an exit code.

    DrillError                      base; never raised directly
    ├── UsageError          (2)     bad command line or plan
    │   └── PlanError       (2)     a plan field is missing, unknown, mistyped or out of range
    ├── InputError          (2)     a file handed to spdrill is not what it should be (backup, CAR, key)
    ├── CannotRunError      (3)     the drill could not run: target, engine or host unreachable
    │   ├── TargetError     (3)     a target failed to create or start what the drill needs
    │   └── LotusError      (3)     talking to a Lotus API failed
    │       ├── LotusTransportError   connection refused, timeout, bad HTTP status
    │       ├── LotusAuthError        HTTP 401 or "missing permission to invoke"
    │       └── LotusRPCError         a JSON-RPC error object came back
    └── SafetyError         (1)     a safety fence refused to go on (keys on the standby, fence missing)

Messages say what was expected, what was found, and what to do. They never carry a token or a key:
build them from names and addresses, not from secrets.
"""

from __future__ import annotations


class DrillError(Exception):
    """Base of every error spdrill raises on purpose."""

    exit_code: int = 1


class UsageError(DrillError):
    """The command line or a plan is wrong; the user must fix their input."""

    exit_code = 2


class PlanError(UsageError):
    """A plan is invalid; the message names the file and the field."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None) -> None:
        self.source = source
        self.field = field
        where = ""
        if source and field:
            where = f"{source}: {field}: "
        elif source:
            where = f"{source}: "
        elif field:
            where = f"{field}: "
        super().__init__(where + message)


class InputError(UsageError):
    """A file handed to spdrill (backup, chain snapshot, key) is malformed."""


class CannotRunError(DrillError):
    """The drill could not run at all: an engine, host or API is unreachable."""

    exit_code = 3


class TargetError(CannotRunError):
    """A target could not create or start something the drill needs."""


class LotusError(CannotRunError):
    """Talking to a Lotus API failed."""


class LotusTransportError(LotusError):
    """The API could not be reached or answered with an unexpected HTTP status."""


class LotusAuthError(LotusError):
    """The API refused the token (HTTP 401) or the token lacks a permission."""


class LotusRPCError(LotusError):
    """The API answered with a JSON-RPC error object."""

    def __init__(self, method: str, code: int, message: str) -> None:
        self.method = method
        self.code = code
        self.rpc_message = message
        super().__init__(f"{method} failed: {message} (JSON-RPC error {code})")


class SafetyError(DrillError):
    """A safety fence refused to let the drill go on."""

    exit_code = 1
