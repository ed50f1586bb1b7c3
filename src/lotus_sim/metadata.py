"""The miner's metadata datastore as key/value pairs: ``/miner-address``, ``/sectors/<n>`` and the rest."""

from __future__ import annotations

from array import array
from collections.abc import Iterable

from lotus_sim import cbor
from lotus_sim.address import Address
from lotus_sim.cbor import FormatError
from lotus_sim.world import MinerMetadata

MINER_ADDRESS = b"/miner-address"
SECTORS_PREFIX = b"/sectors/"


def sector_value(number: int, seal_proof: int | None) -> bytes:
    """The sealing-FSM record of a proving sector (a CBOR map, as cbor-gen writes one)."""
    record: dict[str, object] = {"State": "Proving", "SectorNumber": number}
    if seal_proof is not None:
        record["SectorType"] = seal_proof
    return cbor.encode(record)


def _with_number(template: bytes, number: int) -> bytes:
    # The record's only varying field is SectorNumber: patch its CBOR integer into the encoded template.
    marker = b"\x6cSectorNumber"
    at = template.index(marker) + len(marker)
    return template[:at] + cbor.encode(number) + template[at + 1 :]


def from_pairs(pairs: Iterable[tuple[bytes, bytes]], network: str) -> MinerMetadata:
    """Build MinerMetadata from datastore pairs; FormatError when ``/miner-address`` is absent or bad."""
    miner: str | None = None
    numbers = array("Q")
    entries: dict[str, bytes] = {}
    seal_proof: int | None = None
    for key, value in pairs:
        if key == MINER_ADDRESS:
            try:
                miner = str(Address.from_bytes(value, network))
            except ValueError as exc:
                raise FormatError(f"metadata key /miner-address: not an address ({exc})") from exc
        elif key.startswith(SECTORS_PREFIX) and key[len(SECTORS_PREFIX) :].isdigit():
            numbers.append(int(key[len(SECTORS_PREFIX) :]))
            if seal_proof is None:
                record = cbor.decode(value)
                if isinstance(record, dict) and isinstance(record.get("SectorType"), int):
                    seal_proof = int(record["SectorType"])
        else:
            entries[key.decode("utf-8", "replace")] = value
    if miner is None:
        raise FormatError("metadata has no /miner-address key; expected a lotus-miner metadata datastore")
    return MinerMetadata(miner, array("Q", sorted(numbers)), entries, seal_proof)


def to_pairs(md: MinerMetadata) -> list[tuple[bytes, bytes]]:
    """All datastore pairs, sorted by key bytes as a LevelDB iteration yields them."""
    pairs = [(MINER_ADDRESS, Address.parse(md.miner_address).to_bytes())]
    pairs += [(k.encode(), v) for k, v in md.entries.items()]
    # One template per record: encoding a million small maps one by one would dominate fixture time.
    template = sector_value(0, md.seal_proof)
    pairs += [(SECTORS_PREFIX + str(n).encode(), _with_number(template, n)) for n in md.sectors]
    pairs.sort(key=lambda kv: kv[0])
    return pairs
