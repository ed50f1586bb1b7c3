"""Secrets sweep: every output of a drill (stdout, stderr, logs, JSON, HTML, both JUnit files, the signed
bundle, metrics, history, the webhook's body) holds none of the tokens or key material the drill used."""

from __future__ import annotations

import base64
import http.server
import json
import re
import subprocess
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import SPDRILL, SimDrill

pytestmark = pytest.mark.e2e

JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}")
WEBHOOK_SECRET = "hook-5f2c9e0d7a41b8c3"


def _forms(raw: bytes) -> set[bytes]:
    """The ways key bytes could leak: raw, hex, base64 (standard and URL-safe, unpadded)."""
    b64 = base64.b64encode(raw).rstrip(b"=")
    return {
        f for f in (raw, raw.hex().encode(), b64, base64.urlsafe_b64encode(raw).rstrip(b"=")) if len(f) >= 16
    }


def secrets_of(sim: SimDrill, sign_key: Path) -> dict[str, set[bytes]]:
    """Every secret the drill could see: JWT and libp2p keys, API tokens, wallet keys, the signing key."""
    found: dict[str, set[bytes]] = {}
    rp = sim.restore_point
    for keyfile in [*rp.glob("lotus/keystore/*"), *rp.glob("lotus-miner/keystore/*")]:
        key = json.loads(keyfile.read_text())["PrivateKey"]
        found[str(keyfile.relative_to(rp))] = _forms(base64.b64decode(key)) | {key.rstrip("=").encode()}
    for token in [rp / "lotus" / "token", rp / "lotus-miner" / "token"]:
        found[str(token.relative_to(rp))] = {token.read_bytes().strip()}
    for wallet in (sim.workdir / "fixture" / "secrets").iterdir():
        key = json.loads(bytes.fromhex(wallet.read_text().strip()))["PrivateKey"]
        found[wallet.name] = _forms(base64.b64decode(key)) | {
            key.rstrip("=").encode(),
            wallet.read_bytes().strip(),
        }
    found["signing key"] = _forms(sign_key.read_bytes().strip()) | {sign_key.read_bytes().strip()}
    found["webhook"] = {WEBHOOK_SECRET.encode()}
    return found


def outputs_of(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every file under root, and every member of every .tar.gz bundle."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        yield str(path), path.read_bytes()
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path) as bundle:
                for member in bundle.getmembers():
                    extracted = bundle.extractfile(member)
                    if extracted is not None:
                        yield f"{path}!{member.name}", extracted.read()


def sweep(blobs: list[tuple[str, bytes]], secrets: dict[str, set[bytes]]) -> list[str]:
    """Where a secret (or anything JWT-shaped) appears; empty when nothing leaked."""
    hits = [
        f"{what} in {where}"
        for where, blob in blobs
        for what, forms in secrets.items()
        if any(form in blob for form in forms)
    ]
    return hits + [f"a JWT in {where}" for where, blob in blobs if JWT.search(blob)]


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[bytes]]]:
    """A local webhook receiver whose URL carries a secret; the bodies it got."""
    bodies: list[bytes] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{WEBHOOK_SECRET}?token={WEBHOOK_SECRET}", bodies
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("fault", ["", "keys-in-wallet"])
def test_no_drill_output_holds_a_secret(
    small_drill: Callable[..., SimDrill], tmp_path: Path, webhook: tuple[str, list[bytes]], fault: str
) -> None:
    """A healthy drill (every role up, admin tokens in use) and one whose standby wallet holds the keys."""
    url, bodies = webhook
    sim = small_drill(fixture_args=("--fault", fault) if fault else ())
    keys = tmp_path / "keys"
    subprocess.run([SPDRILL, "keygen", "--out", str(keys)], check=True, capture_output=True, timeout=60)
    sign_key = keys / "drill-signing.key"
    out = tmp_path / "out"
    out.mkdir()
    run = sim.run(
        "--sign",
        str(sign_key),
        "--metrics",
        str(out / "spdrill.prom"),
        "--history",
        str(out / "history.db"),
        "--webhook",
        url,
        timeout=180,
    )
    if fault:  # the wallet keys were in the standby, there to be leaked
        assert run.rc == 1 and "test_fence_verified" in run.failed(), run.stdout
    else:
        assert run.rc == 0, run.stdout + run.stderr
    blobs = [
        ("stdout", run.stdout.encode()),
        ("stderr", run.stderr.encode()),
        *outputs_of(run.reports),
        *outputs_of(out),
        *(("webhook body", b) for b in bodies),
    ]
    assert bodies and any(name.endswith("evidence.tar.gz") for name, _ in blobs), "every kind of output made"
    assert any(name.endswith("!MANIFEST.sha256") for name, _ in blobs)
    assert sweep(blobs, secrets_of(sim, sign_key)) == []


def test_the_sweep_finds_a_planted_secret(small_drill: Callable[..., SimDrill], tmp_path: Path) -> None:
    """The sweep is not vacuous: a token, a wallet key in base64 or a JWT in one log line is found."""
    sim = small_drill()
    sign_key = tmp_path / "k"
    sign_key.write_bytes(b"0123456789abcdef0123456789abcdef")
    secrets = secrets_of(sim, sign_key)
    token = (sim.restore_point / "lotus-miner" / "token").read_bytes().strip()
    wallet = next((sim.workdir / "fixture" / "secrets").iterdir())
    key = json.loads(bytes.fromhex(wallet.read_text().strip()))["PrivateKey"].encode()
    assert sweep([("log", b"auth " + token)], secrets) != []
    assert sweep([("log", b"k=" + key)], secrets) == [f"{wallet.name} in log"]
    assert sweep([("log", b"Bearer eyJhbGciOi.eyJBbGxvdyI6.c2lnbmF0dXJlMTIz")], {}) == ["a JWT in log"]
    assert sweep([("log", b"nothing to see")], secrets) == []
