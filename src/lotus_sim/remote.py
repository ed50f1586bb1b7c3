"""Vanilla proofs over HTTP: the miner's `/remote` handler and the PoSt worker's client of it.

A PoSt worker does not read sector files itself: for each challenged sector it asks the miner's index
where the sector is (StorageFindSector) and POSTs to `<BaseURL>/vanilla/single` on every URL the index
gives (storage/paths/remote.go:822-880), with the worker's own API token (the `auth` header). BaseURLs are
`"http://" + [API] RemoteListenAddress + "/remote"` (node/builder.go:290-295, attached to each path at
storage/paths/local.go:244). The miner answers on its API port under `/remote` (node/rpc.go:130-133,
storage/paths/http_handler.go:57, :299-313) to admin tokens only (node/impl/storminer.go:98-108).
Whatever answers at that address proves the sector: a live miner there makes a dry-run pass on its storage.
"""

from __future__ import annotations

import hashlib
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from lotus_sim.sectorstore import check_sector

__all__ = ["VANILLA_PATH", "base_url", "fetch_vanilla", "serve_remote"]

VANILLA_PATH = "/remote/vanilla/single"
_UNAUTHORIZED = b'{"Error":"unauthorized: missing write permission"}\n'


def base_url(remote_listen_address: str) -> str:
    """`http://<RemoteListenAddress>/remote`, the one URL Lotus attaches to every local path."""
    return f"http://{remote_listen_address}/remote"


def _vanilla(paths: list[Path], params: dict[str, Any]) -> tuple[int, bytes]:
    miner, sector = int(params["Miner"]), params["Sector"]
    number = int(sector["SectorNumber"])
    reason = check_sector(paths, miner, number)
    if reason is not None:  # http_handler.go:306-309: http.Error(w, err.Error(), 500)
        return 500, f"{reason}\n".encode()
    # Bytes that name the storage that answered: a proof made from them is a proof of *that* storage.
    where = ",".join(sorted(str(p) for p in paths))
    return 200, hashlib.blake2b(f"vanilla:{miner}:{number}:{where}".encode(), digest_size=64).digest()


def serve_remote(paths: list[Path], path: str, allow: tuple[str, ...] | None, body: bytes) -> tuple[int, bytes]:
    """The miner's `/remote/...` POST handler (only `/remote/vanilla/single` is simulated)."""
    if allow is None:
        return 401, b""
    if "admin" not in allow:
        return 401, _UNAUTHORIZED
    if path != VANILLA_PATH:
        return 404, b"404 page not found\n"
    try:
        params = json.loads(body)
        return _vanilla(paths, params)
    except (ValueError, KeyError, TypeError) as exc:
        return 500, f"{exc}\n".encode()


def fetch_vanilla(base_urls: list[str], token: str, params: dict[str, Any], timeout: float = 30) -> bytes | None:
    """POST the challenge to each `<base>/vanilla/single` in turn; the first 200 wins, None when none does."""
    payload = json.dumps(params).encode()
    for base in base_urls:
        url = f"{base}/vanilla/single"
        request = urllib.request.Request(url, data=payload, method="POST",
                                         headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # remote.go:868-878: non-200 is logged and the next URL tried
                body = exc.read().decode(errors="replace").strip()
                detail = json.dumps({"code": exc.code, "url": url, "body": body})
                print(f"WARN\tstores\tGenerateSingleVanillaProof non-200 code from remote\t{detail}",
                      file=sys.stderr, flush=True)
        except (OSError, urllib.error.URLError) as exc:  # remote.go:860-865
            detail = json.dumps({"url": url, "error": str(exc)})
            print(f"WARN\tstores\tGenerateSingleVanillaProof do request failed\t{detail}", file=sys.stderr,
                  flush=True)
    return None
