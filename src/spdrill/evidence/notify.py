"""The finish notification: a JSON summary POSTed to a webhook, with retries (tenacity) and a timeout."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from spdrill.errors import CannotRunError
from spdrill.evidence.history import Regression
from spdrill.evidence.record import measured_rto, rpo_seconds, verdict
from spdrill.journal import Journal
from spdrill.phases import critical_path
from spdrill.redact import redact, register

DEFAULT_TIMEOUT = 10.0
DEFAULT_ATTEMPTS = 4


class _Retryable(Exception):
    """The webhook answered 429 or 5xx: worth another try."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def safe_url(url: str) -> str:
    """Scheme, host and port only: webhook paths and queries often carry the secret (Slack, Teams)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


def summary(journal: Journal, *, regression: Regression | None = None,
            report: str | None = None) -> dict[str, Any]:
    """What the webhook receives: verdict, RTO, RPO, failed checks; never tokens, keys or logs."""
    measured = measured_rto(journal)
    v = verdict(journal)
    text = (f"spdrill drill {journal.drill_id} of {journal.plan_name} ({journal.actor}): {v.upper()}"
            + (" [SIMULATED]" if journal.simulated else "")
            + (" [FAILOVER]" if journal.facts.get("mode") == "failover" else ""))
    return {
        "event": "spdrill.drill.finished",
        "text": text,
        "drill_id": journal.drill_id,
        "plan": journal.plan_name,
        "plan_digest": journal.plan_digest,
        "actor": journal.actor,
        "target": journal.target,
        "simulated": journal.simulated,
        "mode": str(journal.facts.get("mode") or "drill"),
        "verdict": v,
        "started_at": journal.started_at.isoformat(),
        "rto_seconds": measured,
        "rto_objective_seconds": journal.objectives.get("rto_seconds"),
        "rpo_seconds": rpo_seconds(journal),
        "rpo_objective_seconds": journal.objectives.get("rpo_seconds"),
        "critical_path": [p.name for p in critical_path(journal.phases, until=measured)],
        "restore_points": [rp.name for rp in journal.restore_points],
        "failed_checks": [{"name": c.name, "message": c.message} for c in journal.checks if not c.passed],
        "regression": None if regression is None else regression.message,
        "report": report,
    }


def post_webhook(url: str, payload: dict[str, Any], *, timeout: float = DEFAULT_TIMEOUT,
                 attempts: int = DEFAULT_ATTEMPTS, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> int:
    """POST the payload as JSON; retry on connection errors, timeouts, 429 and 5xx; return the HTTP status."""
    register(url)  # the full URL is a secret from here on: nothing spdrill writes may contain it
    where = safe_url(url)
    body = redact(json.dumps(payload)).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "spdrill"}

    def once(client: httpx.Client) -> int:
        response = client.post(url, content=body, headers=headers)
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(response.status_code)
        return response.status_code

    retrying = Retrying(stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=1, max=30),
                        retry=retry_if_exception(lambda e: isinstance(e, _Retryable | httpx.TransportError)),
                        sleep=sleep, reraise=False)
    with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
        try:
            status = retrying(once, client)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            why = str(last) if isinstance(last, _Retryable) else type(last).__name__
            raise CannotRunError(f"webhook {where}: no success after {attempts} attempts (last: {why}); the "
                                 "drill's reports are written regardless") from None
        except httpx.HTTPError as exc:
            raise CannotRunError(f"webhook {where}: {type(exc).__name__}") from None
    if status >= 300:
        raise CannotRunError(f"webhook {where}: answered HTTP {status}; check the webhook URL (not retried: "
                             "a 4xx will not change)")
    return status
