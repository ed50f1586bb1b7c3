"""spdrill: restore drills for Filecoin storage providers."""

from spdrill.errors import (
    CannotRunError,
    DrillError,
    DrillInterrupted,
    InputError,
    LotusAuthError,
    LotusDecodeError,
    LotusError,
    LotusHTTPStatusError,
    LotusResponseError,
    LotusRPCError,
    LotusUnreachableError,
    PlanError,
    SafetyError,
    TargetError,
    UsageError,
)

__version__ = "0.1.0"

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
    "__version__",
]
