"""RAM a standby can use: the host's MemTotal, capped by the memory limit of the cgroup it runs in."""

from __future__ import annotations

from dataclasses import dataclass

from spdrill.errors import InputError

# Prints /proc/meminfo, a separator, then the cgroup v2 or v1 memory limit (nothing when neither exists).
COMMAND = ("cat /proc/meminfo; echo ---; cat /sys/fs/cgroup/memory.max 2>/dev/null "
           "|| cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || true")
UNLIMITED = 2**60  # cgroup v1 reports "no limit" as a page-rounded 2^63-1


@dataclass(frozen=True)
class Memory:
    """Total and available RAM of a host and the cgroup limit, in bytes."""

    total: int
    available: int
    limit: int | None

    @property
    def usable(self) -> int:
        """What a process in this cgroup can hope to use: MemTotal, or the cgroup limit when lower."""
        return self.total if self.limit is None else min(self.total, self.limit)


def parse_meminfo(text: str) -> dict[str, int]:
    """Parse /proc/meminfo into field → bytes (the kernel prints kB meaning KiB)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key.strip()] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


def parse_memory(text: str) -> Memory:
    """Parse the output of COMMAND."""
    meminfo, _, limit_text = text.partition("\n---\n")
    info = parse_meminfo(meminfo)
    if "MemTotal" not in info:
        raise InputError("/proc/meminfo: no MemTotal line; expected a Linux host")
    limit_text = limit_text.strip()
    limit = int(limit_text) if limit_text.isdigit() else None
    if limit is not None and limit >= UNLIMITED:
        limit = None
    return Memory(total=info["MemTotal"], available=info.get("MemAvailable", info["MemTotal"]), limit=limit)


def gib(n: int) -> str:
    """Bytes as GiB with one decimal, for messages."""
    return f"{n / 2**30:.1f} GiB"
