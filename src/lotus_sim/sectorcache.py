"""StateMinerSectors of a big miner, encoded once into a file and answered as byte ranges of it.

Why: encoding a million SectorOnChainInfo objects takes seconds of pure Python per call, while real Lotus
reads them from its blockstore. The stand-in encodes them once per world (when ``lotus daemon
--import-snapshot`` runs, or in the background once the daemon has loaded its chain) and then answers any
call, filtered or not, with a few sendfile calls.

Layout, in ``<repo>/datastore/sim-sectors/``: ``<key>.json`` holds the records in sector-number order, each
followed by one comma; ``<key>.idx`` holds the start of each record and the data file's size (``array('Q')``,
little-endian). Live sectors at positions i..j-1 are bytes ``off[i]..off[j]``, the last comma included.
The key is a digest of everything a record depends on (miner, seed, sector size, head height, the live
sectors), and a world is checked against it on every call: a changed world is never answered from an old
file, it is encoded straightforwardly instead.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import shutil
import sys
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

from lotus_sim.rpc import FileSlices
from lotus_sim.statejson import sector_texts
from lotus_sim.world import World

__all__ = ["SectorCache", "cache_dir", "filter_runs", "world_key"]

FORMAT = 1  # bump when the encoding of a record changes: old files then no longer match any world
_BATCH = 4096  # records encoded and written at a time


def cache_dir(lotus_repo: Path) -> Path:
    """Where a daemon repo keeps its encoded sector lists."""
    return lotus_repo / "datastore" / "sim-sectors"


def world_key(w: World) -> str:
    """A digest of everything the encoded records of ``w`` depend on."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{FORMAT}:{w.miner}:{w.seed}:{w.sector_size}:{w.head.height}".encode())
    for dl in w.deadlines:
        h.update(len(dl).to_bytes(8, "little"))
        h.update(memoryview(dl).cast("B"))
    return h.hexdigest()


def filter_runs(runs: Iterable[int]) -> Iterator[tuple[int, int]]:
    """(start, length) of each set run of an RLE+ JSON run list; ValueError names a bad run."""
    position, is_set = 0, False
    for length in runs:
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise ValueError(f"bitfield run {length!r} is not a non-negative integer")
        if is_set and length:
            yield position, length
        position += length
        is_set = not is_set


def _encode(w: World, numbers: array[int], path: Path) -> array[int]:
    """Write the records of ``numbers`` (live, sorted) to ``path``; return where each record ends in it."""
    ends = array("Q")
    position = 0
    texts = sector_texts(w, numbers, known_live=True)
    with path.open("wb") as fh:
        while batch := [t for _, t in zip(range(_BATCH), texts, strict=False)]:
            for text in batch:
                position += len(text) + 1  # ASCII: characters are bytes
                ends.append(position)
            fh.write((",".join(batch) + ",").encode("ascii"))
    return ends


def _fork(w: World, numbers: array[int], path: Path) -> int:
    """Encode ``numbers`` into ``path`` (and their ends into ``path.ends``) in a child process; its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        path.with_name(path.name + ".ends").write_bytes(_encode(w, numbers, path).tobytes())
        code = 0
    except BaseException as exc:  # noqa: BLE001 - a child must never return into the parent's code
        print(f"lotus-sim: encoding sectors into {path}: {exc!r}", file=sys.stderr)
    finally:
        os._exit(code)


def _reap(pid: int) -> int:
    """Wait for a child; its exit code (non-zero when it failed or was killed)."""
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


class SectorCache:
    """The encoded SectorOnChainInfo list of one world, and where each record lies in its file."""

    def __init__(self, key: str, data: Path, numbers: array[int], offsets: array[int]) -> None:
        self.key = key
        self.data = data
        self.numbers = numbers  # live sector numbers, sorted: record i is sector numbers[i]
        self.offsets = offsets  # len(numbers) + 1 entries

    @classmethod
    def open(cls, w: World, directory: Path) -> SectorCache:
        """The cache of ``w`` in ``directory``: loaded when a matching one is there, else built."""
        return cls.load(w, directory) or cls.build(w, directory)

    @classmethod
    def load(cls, w: World, directory: Path) -> SectorCache | None:
        """The cache of ``w`` if ``directory`` holds a complete one for it."""
        key = world_key(w)
        data, idx = directory / f"{key}.json", directory / f"{key}.idx"
        if not (data.is_file() and idx.is_file()):
            return None
        numbers = w.all_sectors()
        offsets = array("Q")
        offsets.frombytes(idx.read_bytes())
        if sys.byteorder != "little":
            offsets.byteswap()
        if len(offsets) != len(numbers) + 1 or offsets[-1] != data.stat().st_size:
            return None  # cut short (a crash while writing) or foreign: build again
        return cls(key, data, numbers, offsets)

    @classmethod
    def build(cls, w: World, directory: Path, workers: int = 1) -> SectorCache:
        """Encode every live sector of ``w`` into ``directory``, replacing the files of other worlds.

        ``workers`` > 1 forks that many processes, each encoding a slice: only for a process without threads
        (``lotus daemon --import-snapshot``), as forking a threaded one is unsafe.
        """
        key = world_key(w)
        directory.mkdir(parents=True, exist_ok=True)
        numbers = w.all_sectors()
        data, idx = directory / f"{key}.json", directory / f"{key}.idx"
        tmp = directory / f".{key}.{os.getpid()}.tmp"
        count = max(1, min(workers, len(numbers)))
        bounds = [len(numbers) * i // count for i in range(count + 1)]
        parts = [tmp.with_name(f"{tmp.name}.{i}") for i in range(count)]
        children: dict[int, int] = {}  # pid -> slice, until reaped
        try:
            for i in range(1, count):
                children[_fork(w, numbers[bounds[i] : bounds[i + 1]], parts[i])] = i
            ends = _encode(w, numbers[bounds[0] : bounds[1]], tmp)
            failed = []
            for pid, i in list(children.items()):
                del children[pid]
                if _reap(pid):
                    failed.append(i)
            if failed:
                raise OSError(f"encoding sectors: worker(s) {failed} of {count} failed; see their messages above")
            with tmp.open("ab") as out:
                for part in parts[1:]:
                    base = out.tell()
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                    part_ends = array("Q")
                    part_ends.frombytes(part.with_name(part.name + ".ends").read_bytes())
                    ends.extend(e + base for e in part_ends)
            offsets = array("Q", [0])
            offsets.extend(ends)
            stored = array("Q", offsets)
            if sys.byteorder != "little":
                stored.byteswap()
            idx_tmp = tmp.with_suffix(".idx")
            idx_tmp.write_bytes(stored.tobytes())
            # The index first: load() wants both, and checks the index against the data file's size.
            idx_tmp.replace(idx)
            tmp.replace(data)
        finally:
            for pid in children:  # the parent failed first: no child may outlive the build
                _reap(pid)
            for old in directory.iterdir():
                if old.name not in (data.name, idx.name):
                    old.unlink(missing_ok=True)
        return cls(key, data, numbers, offsets)

    def fresh(self, w: World) -> bool:
        """True when ``w`` is still the world this cache was built for."""
        return world_key(w) == self.key

    def answer(self, runs: Iterable[tuple[int, int]]) -> FileSlices:
        """The JSON list of the live sectors within ``runs`` ((start, length), ascending, disjoint)."""
        spans: list[tuple[int, int]] = []  # positions [lo, hi)
        for start, length in runs:
            lo = bisect.bisect_left(self.numbers, start)
            hi = bisect.bisect_left(self.numbers, start + length, lo)
            if lo == hi:
                continue
            if spans and spans[-1][1] == lo:
                spans[-1] = (spans[-1][0], hi)
            else:
                spans.append((lo, hi))
        return self._slices(spans)

    def answer_all(self) -> FileSlices:
        """The JSON list of every live sector."""
        return self._slices([(0, len(self.numbers))] if len(self.numbers) else [])

    def answer_without(self, excluded: Iterable[int]) -> FileSlices:
        """The JSON list of the live sectors not in ``excluded`` (StateMinerActiveSectors: not faulty)."""
        cuts = sorted({p for n in excluded if (p := self._position(n)) is not None})
        spans, lo = [], 0
        for p in [*cuts, len(self.numbers)]:
            if lo < p:
                spans.append((lo, p))
            lo = p + 1
        return self._slices(spans)

    def _position(self, number: int) -> int | None:
        p = bisect.bisect_left(self.numbers, number)
        return p if p < len(self.numbers) and self.numbers[p] == number else None

    def _slices(self, spans: list[tuple[int, int]]) -> FileSlices:
        off = self.offsets
        parts: list[bytes | tuple[int, int]] = [b"["]
        for i, (lo, hi) in enumerate(spans):
            last = i == len(spans) - 1
            parts.append((off[lo], off[hi] - off[lo] - (1 if last else 0)))  # the last record's comma stays out
        parts.append(b"]")
        return FileSlices(self.data, parts)
