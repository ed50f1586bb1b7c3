"""The spdrill exception tree: one base, a few branches, each class with the exit code it stands for.

    DrillError                        (1)  base; never raised directly
    ├── UsageError                    (2)  bad command line or plan
    │   ├── PlanError                 (2)  a plan field is missing, unknown, mistyped or out of range
    │   └── InputError                (2)  a file handed to spdrill is not what it should be (backup, CAR, key)
    ├── CannotRunError                (3)  spdrill itself could not run the drill
    │   ├── TargetError               (3)  an engine, host or target failed to create or start what the drill needs
    │   └── DrillInterrupted          (3)  the run was interrupted (Ctrl-C) before it could finish
    ├── LotusError                    (-)  base of every failure talking to a Lotus API; never raised directly
    │   ├── LotusUnreachableError     (3*) no answer: connection refused or reset, "Server disconnected", timeout,
    │   │                                  an answer that broke off
    │   └── LotusResponseError        (1)  the API answered, with an error or with something spdrill cannot use
    │       ├── LotusRPCError         (1)  a JSON-RPC error object came back (``actor_not_found`` tells one case)
    │       ├── LotusAuthError        (1)  HTTP 401, or "missing permission to invoke"
    │       ├── LotusHTTPStatusError  (1)  an HTTP status other than 200 without a JSON-RPC error (404, 502, ...)
    │       └── LotusDecodeError      (1)  not a JSON-RPC 2.0 answer, a wrong id, a field missing or mistyped
    └── SafetyError                   (1)  a safety fence refused to go on (keys on the standby, fence missing)

(3*) The rule for an unreachable Lotus API, as an httpx ``TransportError`` is apart from its
``HTTPStatusError``: who started the process decides what its silence means.

- The API of a process spdrill did not start (the attach target's daemon or miner, named by
  ``FULLNODE_API_INFO`` / ``MINER_API_INFO``) is part of the drill's set-up: no answer at first contact
  means the drill could not run, exit 3. That is the class's ``exit_code``.
- The API of a standby role spdrill started (daemon, miner, worker) that stops answering, or whose
  process dies, is a finding about the restore: exit 1; so is an attached API that answered once and
  then fell silent. The bring-up (``BringUp._judge``) knows which roles it started and overrides the
  default there; nothing else does.

A Lotus API that answered is never "could not run": the answer is about the standby (or the plan's
actor on its chain), so it is a finding, exit 1, whoever started the process. The other classes are
defined next to their use, each a subclass of one above, and listed here so this stays the whole tree:

    DrillError (1)  ├── waits.WaitTimeout          a readiness wait past its deadline
                    ├── waits.ProbeGaveUp          a probe saw what waiting will not fix (a process exited)
                    │   └── waits.WaitStalled      no progress for [standby.timeouts] stall
                    └── findings.StageProblem      a stage ran and found a problem (carries its finding)
                        └── bringup.probes.PoStError   CheckProvable or the WindowPoSt dry-run found one
    InputError (2)  └── hostcheck.checks.NoGpuDriver   nvidia-smi missing or failing on the standby host

``docs/exit-codes.md`` is the table for operators.

Messages say what was expected, what was found, and what to do. They never carry a token or a key:
build them from names and addresses, not from secrets.
"""

from __future__ import annotations

import re

__all__ = [
    "CannotRunError",
    "DrillError",
    "DrillInterrupted",
    "InputError",
    "LotusAuthError",
    "LotusDecodeError",
    "LotusError",
    "LotusHTTPStatusError",
    "LotusRPCError",
    "LotusResponseError",
    "LotusUnreachableError",
    "PlanError",
    "SafetyError",
    "TargetError",
    "UsageError",
]


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
    """spdrill itself could not run the drill: an engine, host or target failed, or the run was interrupted."""

    exit_code = 3


class TargetError(CannotRunError):
    """A target could not create or start something the drill needs."""


class DrillInterrupted(CannotRunError):
    """The run was interrupted (Ctrl-C) before it could finish; what it found is incomplete."""


class LotusError(DrillError):
    """Talking to a Lotus API failed; the subclass says whether it answered."""

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None) -> None:
        self.method = method
        self.url = url
        super().__init__(message)


class LotusUnreachableError(LotusError):
    """The API gave no answer: connection refused or reset, "Server disconnected", a timeout, a cut answer.

    Exit 3 when the API is one spdrill did not start (the attach target's); the bring-up counts it as a
    finding (exit 1) when the role was started by spdrill. See the module docstring.
    """

    exit_code = 3


class LotusResponseError(LotusError):
    """The API answered, with an error or with something spdrill cannot use: a finding (exit 1)."""

    exit_code = 1


class LotusRPCError(LotusResponseError):
    """The API answered with a JSON-RPC error object."""

    def __init__(self, method: str, code: int, message: str, *, url: str | None = None) -> None:
        self.code = code
        self.rpc_message = message
        super().__init__(f"{method} failed: {message} (JSON-RPC error {code})", method=method, url=url)

    @property
    def actor_not_found(self) -> bool:
        """Whether the chain has no actor at the address the call named (Lotus's ``actor not found``)."""
        return self.code == E_ACTOR_NOT_FOUND or _ACTOR_NOT_FOUND.search(self.rpc_message) is not None


# Lotus answers an unknown actor in two ways. State calls that load it (StateMinerInfo and the other miner
# state calls, node/impl/full/state.go:170 "failed to load miner actor: %w") wrap types.ErrActorNotFound
# (chain/types/actor.go:11 "actor not found", from the state tree, chain/state/statetree.go:373,402), and
# go-jsonrpc sends a wrapped error with code 1 and its text (go-jsonrpc handler.go:277, createError). Calls
# that return api.ErrActorNotFound (StateLookupID, node/impl/full/state.go:494-495) get its registered code
# EActorNotFound = FirstUserCode + 9 = 11 (api/api_errors.go:21-30,86; go-jsonrpc errors.go:36).
E_ACTOR_NOT_FOUND = 11
_ACTOR_NOT_FOUND = re.compile(r"\bactor not found$")


class LotusAuthError(LotusResponseError):
    """The API refused the token (HTTP 401) or the token lacks a permission."""


class LotusHTTPStatusError(LotusResponseError):
    """The API answered with an HTTP status other than 200 and no JSON-RPC error (404, 502, 503, ...)."""

    def __init__(self, message: str, *, status_code: int, method: str | None = None,
                 url: str | None = None) -> None:
        self.status_code = status_code
        super().__init__(message, method=method, url=url)


class LotusDecodeError(LotusResponseError):
    """The answer is not what spdrill can read: not JSON-RPC 2.0, a wrong id, a field missing or mistyped."""

    def __init__(self, message: str, *, method: str | None = None, field: str | None = None,
                 url: str | None = None) -> None:
        self.field = field
        super().__init__(message, method=method, url=url)


class SafetyError(DrillError):
    """A safety fence refused to let the drill go on."""

    exit_code = 1
