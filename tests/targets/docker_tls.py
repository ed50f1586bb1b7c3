"""A real TLS front for the test Docker engine: a CA, server and client certificates, and socat with verify=1.

The engine itself keeps its unix socket; socat terminates TLS on 127.0.0.1 (client certificates checked
against the CA, as `dockerd --tlsverify` does) and forwards to it, so the engine the other tests use is the
one a `DOCKER_HOST=tcp://…` drill reaches, with no second image store to fill.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsEngine:
    """Where the TLS front listens and the DOCKER_CERT_PATH folders of a trusted and an untrusted client."""

    port: int
    client_certs: Path
    wrong_certs: Path

    @property
    def host(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def env(self, certs: Path | None = None) -> dict[str, str]:
        return {"DOCKER_HOST": self.host, "DOCKER_TLS_VERIFY": "1",
                "DOCKER_CERT_PATH": str(certs or self.client_certs)}


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _cert(name: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
          *, ca: bool = False, server: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                         x509.DNSName("localhost")]), critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_certs(d: Path) -> tuple[Path, Path, Path]:
    """Server files, a trusted client's DOCKER_CERT_PATH and an untrusted one's (signed by another CA)."""
    cas = []
    for name in ("spdrill test CA", "some other CA"):
        key = _key()
        cas.append((key, _cert(name, key, None, ca=True)))
    (ca_key, ca), (other_key, other) = cas
    server_key = _key()
    server = d / "server"
    server.mkdir()
    (server / "key.pem").write_bytes(_pem_key(server_key))
    (server / "cert.pem").write_bytes(_pem(_cert("127.0.0.1", server_key, (ca.subject, ca_key), server=True)))
    (server / "ca.pem").write_bytes(_pem(ca))
    out = []
    for folder, (signer_key, signer) in (("client", (ca_key, ca)), ("wrong-client", (other_key, other))):
        key = _key()
        path = d / folder
        path.mkdir()
        (path / "key.pem").write_bytes(_pem_key(key))
        (path / "cert.pem").write_bytes(_pem(_cert("spdrill client", key, (signer.subject, signer_key))))
        (path / "ca.pem").write_bytes(_pem(ca))  # both trust the real server: only the client side is wrong
        out.append(path)
    return server, out[0], out[1]


@contextmanager
def tls_front(d: Path, engine_socket: str) -> Iterator[TlsEngine | str]:
    """socat terminating TLS on a free 127.0.0.1 port; yields the engine, or why it cannot run."""
    socat = shutil.which("socat")
    if socat is None:
        yield "socat is not installed (Debian: socat)"
        return
    d.mkdir(parents=True, exist_ok=True)
    server, client, wrong = make_certs(d)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    listen = (f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={server / 'cert.pem'},"
              f"key={server / 'key.pem'},cafile={server / 'ca.pem'},verify=1")
    # Its own session: the children it forks per connection go with it at the end.
    proc = subprocess.Popen([socat, listen, f"UNIX-CONNECT:{engine_socket}"], stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        for _ in range(200):
            if proc.poll() is not None:
                yield f"socat would not start (exit {proc.returncode})"
                return
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield TlsEngine(port, client, wrong)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
