"""spdrill: restore drills for Filecoin storage providers."""

from spdrill.errors import (
    CannotRunError,
    DrillError,
    InputError,
    LotusAuthError,
    LotusError,
    LotusRPCError,
    LotusTransportError,
    PlanError,
    SafetyError,
    TargetError,
    UsageError,
)

__version__ = "0.1.0"

__all__ = [
    "CannotRunError",
    "DrillError",
    "InputError",
    "LotusAuthError",
    "LotusError",
    "LotusRPCError",
    "LotusTransportError",
    "PlanError",
    "SafetyError",
    "TargetError",
    "UsageError",
    "__version__",
]
