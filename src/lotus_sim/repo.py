"""Repo plumbing shared by the three programs: JWT secret, `api`/`token` files, signals, errors."""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from lotus_sim.jwt import JwtError, decode_allow, encode_allow
from lotus_sim.perms import allow_for
from lotus_sim.rpcclient import multiaddr_for

__all__ = [
    "JWT_KEY_FILE",
    "CliError",
    "admin_token",
    "ensure_jwt_secret",
    "make_authorizer",
    "print_error",
    "repo_path",
    "wait_for_signal",
    "wallet_addresses",
    "write_api_files",
]

# base32("auth-jwt-private") without padding: the keystore file name Lotus uses for the API secret.
JWT_KEY_FILE = base64.b32encode(b"auth-jwt-private").decode().rstrip("=")


class CliError(Exception):
    """A failure the CLI reports as `ERROR: <message>` with an exit code, without a traceback."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def repo_path(env_var: str, default: str, *deprecated: str) -> Path:
    """The repo folder from its env var (or a deprecated one), else the default under $HOME."""
    for name in (env_var, *deprecated):
        value = os.environ.get(name)
        if value:
            return Path(value).expanduser()
    return Path(default).expanduser()


def ensure_jwt_secret(repo: Path) -> bytes:
    """Read the repo's JWT secret from its keystore, creating a random one on first start as Lotus does."""
    path = repo / "keystore" / JWT_KEY_FILE
    if path.is_file():
        try:
            info = json.loads(path.read_text())
            return base64.b64decode(info["PrivateKey"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CliError(f"{path}: not a KeyInfo JSON with a base64 PrivateKey; restore the keystore") \
                from exc
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_bytes(32)
    info = {"Type": "jwt-hmac-secret", "PrivateKey": base64.b64encode(secret).decode()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(info, handle)
    return secret


def admin_token(secret: bytes) -> str:
    """An admin token, as Lotus writes to `<repo>/token`."""
    return encode_allow(allow_for("admin"), secret)


def make_authorizer(secret: bytes) -> Callable[[str], list[str]]:
    """A token check for RpcServer: the Allow list of a token signed with `secret`."""
    from lotus_sim.rpc import Unauthorized

    def authorize(token: str) -> list[str]:
        try:
            return decode_allow(token, secret)
        except JwtError as exc:
            raise Unauthorized(str(exc)) from exc

    return authorize


def write_api_files(repo: Path, host: str, port: int, token: str) -> None:
    """Write `api` (multiaddr) and `token` (mode 0600) into the repo."""
    repo.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a reader polling for these files never sees them half written.
    token_tmp = repo / ".token.tmp"
    fd = os.open(token_tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    os.replace(token_tmp, repo / "token")
    api_tmp = repo / ".api.tmp"
    api_tmp.write_text(multiaddr_for(host, port))
    os.replace(api_tmp, repo / "api")


def wait_for_signal(stop: threading.Event | None = None) -> threading.Event:
    """Block until SIGTERM or SIGINT (or `stop` is set by another thread); return the event."""
    event = stop or threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        event.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    while not event.wait(0.2):
        pass
    return event


def print_error(message: str) -> None:
    """Print an error the way Lotus's CLI does."""
    print(f"ERROR: {message}", file=sys.stderr)


def wallet_addresses(repo: Path) -> list[str]:
    """Addresses whose keys are in the repo keystore (files named base32 of `wallet-<address>`), sorted."""
    found = []
    keystore = repo / "keystore"
    if not keystore.is_dir():
        return []
    for entry in keystore.iterdir():
        try:
            name = base64.b32decode(entry.name + "=" * (-len(entry.name) % 8)).decode()
        except (ValueError, UnicodeDecodeError):
            continue  # not a keystore entry (Lotus ignores stray files too)
        if name.startswith("wallet-"):
            found.append(name.removeprefix("wallet-"))
    return sorted(found)


def listen_address(config: Path, flag: str | None, env_var: str, default_port: int) -> tuple[str, int]:
    """Where to serve: the port flag (on 127.0.0.1) when given, else `[API] ListenAddress` (or its env)."""
    import re
    import tomllib

    if flag is not None:
        if not flag.isdigit():
            raise CliError(f"API port {flag!r} is not a number")
        return "127.0.0.1", int(flag)
    value, where = os.environ.get(env_var), f"environment {env_var}"
    if not value and config.is_file():
        try:
            api = tomllib.loads(config.read_text()).get("API", {})
        except tomllib.TOMLDecodeError as exc:
            raise CliError(f"{config}: not valid TOML ({exc})") from exc
        value = api.get("ListenAddress") if isinstance(api, dict) else None
        where = f"{config} [API] ListenAddress"
    if not value:
        return "127.0.0.1", default_port
    match = re.fullmatch(r"/ip4/([0-9.]+)/tcp/(\d+)/http/?", str(value))
    if not match:
        example = f"/ip4/127.0.0.1/tcp/{default_port}/http"
        raise CliError(f"{where} = {value!r}: expected a multiaddr like {example}")
    return match.group(1), int(match.group(2))
