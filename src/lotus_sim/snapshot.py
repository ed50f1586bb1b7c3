"""Chain snapshots: the head BlockHeader (16-field DAG-CBOR array) and the stand-in's state block."""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import replace
from pathlib import Path

from lotus_sim import cbor
from lotus_sim.address import Address, read_uvarint, uvarint
from lotus_sim.car import read_car, write_car
from lotus_sim.cbor import CID, FormatError, block_cid
from lotus_sim.clock import Clock
from lotus_sim.world import Account, Head, Multisig, World, iter_runs

STATE_FORMAT = 1
_HEIGHT, _STATE_ROOT, _TIMESTAMP = 7, 8, 12


def encode_runs(numbers: array[int] | list[int]) -> bytes:
    """Sorted sector numbers as uvarint (gap, run length) pairs: tiny for the usual dense numbering."""
    out = bytearray()
    prev_end = 0
    for start, length in iter_runs(numbers if isinstance(numbers, array) else array("Q", numbers)):
        out += uvarint(start - prev_end) + uvarint(length)
        prev_end = start + length
    return bytes(out)


def decode_runs(raw: bytes) -> array[int]:
    """Inverse of ``encode_runs``."""
    numbers: array[int] = array("Q")
    pos, prev_end = 0, 0
    while pos < len(raw):
        gap, pos = read_uvarint(raw, pos)
        length, pos = read_uvarint(raw, pos)
        start = prev_end + gap
        numbers.extend(range(start, start + length))
        prev_end = start + length
    return numbers


def _account(acc: Account) -> list[str]:
    return [acc.id_address, acc.key_address, acc.key_type]


def encode_state(world: World) -> dict[str, object]:
    """The state block's content for ``world``."""
    return {
        "lotus-sim": STATE_FORMAT,
        "network": world.network_name,
        "networkVersion": world.network_version,
        "genesis": world.clock.genesis,
        "blockDelay": world.clock.block_delay,
        "seed": world.seed,
        "miner": world.miner,
        "owner": _account(world.owner),
        "worker": _account(world.worker),
        "controls": [_account(c) for c in world.controls],
        "peerId": world.peer_id,
        "sectorSize": world.sector_size,
        "provingPeriodOffset": world.proving_period_offset,
        "deadlines": [encode_runs(d) for d in world.deadlines],
        "faulty": encode_runs(sorted(world.faulty)),
        "recovering": encode_runs(sorted(world.recovering)),
        **_multisig(world),
    }


def _multisig(world: World) -> dict[str, object]:
    # Only present for a multisig owner, so every other snapshot keeps its bytes.
    msig = world.owner_multisig
    if msig is None:
        return {}
    return {"ownerMultisig": [msig.id_address, msig.threshold, [_account(a) for a in msig.signers]]}


def _decode_multisig(value: object) -> Multisig | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[1], int)
            and isinstance(value[2], list)):
        raise FormatError(f"state block field 'ownerMultisig': expected [id, threshold, signers], got {value!r:.80}")
    return Multisig(value[0], tuple(_acc(a, "ownerMultisig") for a in value[2]), value[1])


def _field(state: dict[str, object], key: str, kind: type) -> object:
    value = state.get(key)
    if not isinstance(value, kind):
        raise FormatError(f"state block field {key!r}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _acc(value: object, key: str) -> Account:
    if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value)):
        raise FormatError(f"state block field {key!r}: expected [id, key address, key type], got {value!r:.80}")
    return Account(value[0], value[1], value[2])


def decode_state(state: dict[str, object], head: Head) -> World:
    """Rebuild a World from a state block; FormatError names the bad field."""
    if state.get("lotus-sim") != STATE_FORMAT:
        found = state.get("lotus-sim")
        raise FormatError(f"state block: expected lotus-sim format {STATE_FORMAT}, got {found!r}")
    deadlines = _field(state, "deadlines", list)
    assert isinstance(deadlines, list)
    controls = _field(state, "controls", list)
    assert isinstance(controls, list)
    return World(
        miner=str(_field(state, "miner", str)),
        owner=_acc(state.get("owner"), "owner"),
        worker=_acc(state.get("worker"), "worker"),
        controls=tuple(_acc(c, "controls") for c in controls),
        peer_id=str(_field(state, "peerId", str)),
        sector_size=int(_field(state, "sectorSize", int)),  # type: ignore[call-overload]
        head=head,
        deadlines=[decode_runs(bytes(d)) for d in deadlines],
        proving_period_offset=int(_field(state, "provingPeriodOffset", int)),  # type: ignore[call-overload]
        network_name=str(_field(state, "network", str)),
        network_version=int(_field(state, "networkVersion", int)),  # type: ignore[call-overload]
        clock=Clock(int(_field(state, "genesis", int)), int(_field(state, "blockDelay", int))),  # type: ignore[call-overload]
        seed=int(_field(state, "seed", int)),  # type: ignore[call-overload]
        faulty=set(decode_runs(bytes(_field(state, "faulty", bytes)))),  # type: ignore[call-overload]
        recovering=set(decode_runs(bytes(_field(state, "recovering", bytes)))),  # type: ignore[call-overload]
        owner_multisig=_decode_multisig(state.get("ownerMultisig")),
    )


def big_int_bytes(value: int) -> bytes:
    """Filecoin's CBOR big-int form: empty for zero, else a sign byte and big-endian magnitude."""
    if value == 0:
        return b""
    magnitude = abs(value)
    return (b"\x01" if value < 0 else b"\x00") + magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big")


def block_header(world: World, state_root: CID, ticket: bytes) -> list[object]:
    """The head BlockHeader as Lotus serialises it (a 16-element array)."""
    tag = f"lotus-sim:{world.seed}:{world.head.height}"
    fake = [block_cid(f"{tag}:{what}".encode()) for what in ("rcpt", "msgs")]
    # Some other miner produced the head block; the stand-in's own miner never mines.
    prefix = "f" if world.network_name == "mainnet" else "t"
    block_miner = Address.id(1000 + 7 * (world.seed % 1000) + 1, prefix)
    return [
        block_miner.to_bytes(),  # 0 Miner
        [ticket],  # 1 Ticket{VRFProof}
        [1, ticket[::-1]],  # 2 ElectionProof{WinCount, VRFProof}
        [],  # 3 BeaconEntries
        [],  # 4 WinPoStProof
        [CID.parse(c) for c in world.head.parent_cids],  # 5 Parents
        big_int_bytes(world.head.height * 10_000_000 + 1),  # 6 ParentWeight
        world.head.height,  # 7 Height
        state_root,  # 8 ParentStateRoot: the stand-in's state block
        fake[0],  # 9 ParentMessageReceipts
        fake[1],  # 10 Messages
        b"\x02" + bytes(96),  # 11 BLSAggregate (type 2 = BLS)
        world.head.timestamp,  # 12 Timestamp
        b"\x02" + ticket[:48] * 2,  # 13 BlockSig
        0,  # 14 ForkSignaling
        big_int_bytes(100),  # 15 ParentBaseFee
    ]


def write_snapshot(world: World, path: Path, zstd: bool = True) -> list[str]:
    """Write ``world`` as a CARv1 snapshot: roots = head tipset, then headers, then the state block."""
    state = cbor.encode(encode_state(world))
    state_cid = block_cid(state)
    parents = world.head.parent_cids or tuple(
        str(block_cid(f"lotus-sim:{world.seed}:{world.head.height - 1}:parent".encode())) for _ in range(1)
    )
    world.head = replace(world.head, parent_cids=parents)
    ticket = hashlib.blake2b(f"ticket:{world.seed}:{world.head.height}".encode(), digest_size=48).digest() * 2
    header = cbor.encode(block_header(world, state_cid, ticket))
    head_cid = block_cid(header)
    world.head = replace(world.head, cids=(str(head_cid),))
    write_car(path, [head_cid], [(head_cid, header), (state_cid, state)], zstd=zstd)
    return [str(head_cid)]


def _header_fields(cid: CID, raw: bytes, name: str) -> list[object]:
    header = cbor.decode(raw)
    if not isinstance(header, list) or len(header) != 16:
        raise FormatError(f"{name}: root {cid} is not a 16-field BlockHeader")
    if not isinstance(header[_HEIGHT], int) or not isinstance(header[_TIMESTAMP], int):
        raise FormatError(f"{name}: root {cid} has no integer Height/Timestamp")
    return header


def read_head(path: Path) -> tuple[Head, list[list[object]], dict[CID, bytes]]:
    """The head tipset of any CARv1 chain snapshot (real Lotus ones too), its headers and all blocks."""
    car = read_car(path)
    if not car.roots:
        raise FormatError(f"{path}: the CAR has no roots; expected the head tipset CIDs")
    headers = []
    for root in car.roots:
        if root not in car.blocks:
            raise FormatError(f"{path}: root {root} is not among the file's blocks (truncated snapshot?)")
        headers.append(_header_fields(root, car.blocks[root], str(path)))
    first = headers[0]
    parents = first[5] if isinstance(first[5], list) else []
    head = Head(
        height=int(first[_HEIGHT]),  # type: ignore[call-overload]
        timestamp=min(int(h[_TIMESTAMP]) for h in headers),  # type: ignore[call-overload]
        cids=tuple(str(r) for r in car.roots),
        parent_cids=tuple(str(p) for p in parents if isinstance(p, CID)),
    )
    return head, headers, car.blocks


def read_snapshot(path: Path) -> World:
    """Read a stand-in snapshot: the head from the roots, the World from the head's ParentStateRoot."""
    head, headers, blocks = read_head(path)
    state_root = headers[0][_STATE_ROOT]
    if not isinstance(state_root, CID) or state_root not in blocks:
        raise FormatError(
            f"{path}: the head's ParentStateRoot block is missing; a lotus-sim snapshot carries its state"
            " in that block (is this a real Lotus snapshot or a truncated file?)"
        )
    state = cbor.decode(blocks[state_root])
    if not isinstance(state, dict):
        raise FormatError(f"{path}: the state block is not a CBOR map")
    return decode_state(state, head)
