"""Reaching a Docker engine, local or remote, as the docker CLI does: DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH.

Errors name the variable to fix (exit 3: the drill could not run), never a traceback.
"""

from __future__ import annotations

import os
from typing import Any

from spdrill.errors import CannotRunError


def connect(timeout: float = 60) -> Any:
    """A Docker SDK client from DOCKER_HOST (and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH), checked with a ping."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = _from_env(int(timeout), where)
        client.ping()
    except Exception as exc:
        if _tls_failure(exc):
            certs = os.environ.get("DOCKER_CERT_PATH", "~/.docker")
            raise CannotRunError(f"the TLS handshake with the Docker engine at DOCKER_HOST={where} failed "
                                 f"({exc.__class__.__name__}); DOCKER_CERT_PATH={certs} must hold ca.pem, cert.pem "
                                 "and key.pem of a client the engine trusts (and DOCKER_TLS_VERIFY=1)") from None
        raise CannotRunError(f"no Docker engine answers at DOCKER_HOST={where} ({exc.__class__.__name__}); start "
                             "dockerd (or the remote engine) or set DOCKER_HOST") from None
    return client


def _from_env(timeout: int, where: str) -> Any:
    """docker.from_env, except that a TLS engine is verified against DOCKER_CERT_PATH's ca.pem only.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (often set system-wide) replace the client's own CA on
    every request, so the engine's private CA would never be trusted: the client ignores the environment.
    """
    import docker
    from docker.utils import kwargs_from_env

    if where.startswith("ssh://"):
        _tolerate_closed_ssh_pipe()
    kwargs = kwargs_from_env()
    if kwargs.get("tls") is None:
        return docker.from_env(timeout=timeout, use_ssh_client=where.startswith("ssh://"))
    probe = docker.DockerClient(version="1.24", timeout=timeout, **kwargs)  # the oldest API docker-py speaks
    try:
        probe.api.trust_env = False
        version = str(probe.version()["ApiVersion"])
    finally:
        probe.close()
    client = docker.DockerClient(version=version, timeout=timeout, **kwargs)
    client.api.trust_env = False
    return client


def _tolerate_closed_ssh_pipe() -> None:
    """Let the SDK's ssh transport close a connection whose `docker system dial-stdio` has already ended.

    After an exec's output stream the remote end hangs up first, and SSHSocket.close writes to the dead pipe:
    every `exec_run` over ssh:// then raises BrokenPipeError after its output was read (docker/docker-py#3218,
    open). The patched close ends the ssh process the same way, without the write that cannot succeed.
    """
    from docker.transport import sshconn

    original = sshconn.SSHSocket.close
    if getattr(original, "_spdrill_tolerant", False):
        return

    def close(self: Any) -> None:
        try:
            original(self)
        except BrokenPipeError:
            if self.proc is not None:
                self.proc.terminate()

    close._spdrill_tolerant = True  # type: ignore[attr-defined]
    sshconn.SSHSocket.close = close


def _tls_failure(exc: BaseException) -> bool:
    """Whether a connect error is about certificates (a bad or missing DOCKER_CERT_PATH), not a silent engine."""
    import ssl

    from docker.errors import TLSParameterError

    seen: BaseException | None = exc
    for _ in range(8):  # requests wraps urllib3 wraps ssl: walk the chain
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError | TLSParameterError) or "SSL" in seen.__class__.__name__:
            return True
        seen = seen.__cause__ or seen.__context__ or (seen.args[0] if seen.args and
                                                      isinstance(seen.args[0], BaseException) else None)
    return False


