"""World model: proof tables, deadline arithmetic, clock, partitions and fault sets, compactness at 1M sectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import tracemalloc
from array import array
from pathlib import Path

import pytest

from lotus_sim import keystore, sectorstore
from lotus_sim.address import Address
from lotus_sim.cbor import FormatError
from lotus_sim.clock import MAINNET, Clock, clock_from_env, parse_duration
from lotus_sim.fixture import assign_deadlines
from lotus_sim.policy import deadline_info, parse_size, proof_types
from lotus_sim.snapshot import decode_runs, encode_runs
from lotus_sim.world import Account, Head, World

ACC = Account("f01001", "f3x", "bls")


def _world(sectors: int, size: int = 2048, k: int = 4) -> World:
    deadlines = assign_deadlines(sectors, k, proof_types(size).partition_sectors)
    return World("f01000", ACC, ACC, (), "12D3KooWx", size, Head(4_000_000, MAINNET.timestamp_of(4_000_000)),
                 deadlines, seed=3)  # fmt: skip


@pytest.mark.parametrize(
    ("size", "seal", "post", "partition"),
    [("2KiB", 5, 10, 2), ("8MiB", 6, 11, 2), ("512MiB", 7, 12, 2), ("32GiB", 8, 13, 2349), ("64GiB", 9, 14, 2300)],
)
def test_registered_proofs_and_partition_sizes(size: str, seal: int, post: int, partition: int) -> None:
    assert proof_types(parse_size(size)) == proof_types(parse_size(str(parse_size(size))))
    p = proof_types(parse_size(size))
    assert (p.seal_proof, p.window_post_proof, p.partition_sectors) == (seal, post, partition)


def test_unknown_sector_size_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one of"):
        parse_size("4GiB")


def test_deadline_info_matches_a_real_lotus_deadline() -> None:
    # From a real miner (LOTUS-FACTS §e): CurrentEpoch 114320, PeriodStart 114090, Index 3.
    info = deadline_info(114320, 114090 % 2880)
    assert (info.period_start, info.index, info.open, info.close) == (114090, 3, 114270, 114330)
    assert (info.challenge, info.fault_cutoff) == (114250, 114200)


def test_mainnet_clock_matches_the_docs_example() -> None:
    assert MAINNET.timestamp_of(4863283) == 1744204890
    assert MAINNET.epoch_at(1744204890) == 4863283 and MAINNET.epoch_at(1744204919) == 4863283
    devnet = clock_from_env({"LOTUS_SIM_BLOCK_DELAY": "4", "LOTUS_SIM_GENESIS": "1000"})
    assert devnet == Clock(1000, 4) and devnet.timestamp_of(10) == 1040
    with pytest.raises(ValueError, match="LOTUS_SIM_BLOCK_DELAY"):
        clock_from_env({"LOTUS_SIM_BLOCK_DELAY": "fast"})


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("45s", 45), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("7d", 604800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2 hours", "h", "1.5h", "-1h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="expected seconds"):
        parse_duration(text)


def test_partitions_locate_and_fault_sets() -> None:
    world = _world(20)
    assert [len(d) for d in world.deadlines if len(d)] == [6, 6, 4, 4]
    assert [list(p) for p in world.partitions(0)] == [[0, 1], [8, 9], [16, 17]]
    assert world.locate(9) == (0, 1) and world.locate(20) is None
    world.faulty.update({8, 9})
    world.recovering.add(9)
    sets = world.partition_sets(0, 1)
    assert (sets.active, sets.faulty, sets.recovering) == ([], [8, 9], [9])
    assert world.miner_power() == (18 * 2048, 18 * 2048)
    assert 8 not in world.active_sectors() and len(world.active_sectors()) == 18


def test_sector_info_is_deterministic_and_plausible() -> None:
    world = _world(20, size=32 << 30, k=1)
    info = world.sector_info(5)
    assert info is not None and info == _world(20, size=32 << 30, k=1).sector_info(5)
    assert info.seal_proof == 8 and info.sealed_cid.startswith("bagboea4b")  # CommR CID, as on mainnet
    assert info.activation <= world.head.height < info.expiration
    assert info.raw_power == 32 << 30 and info.initial_pledge > info.expected_day_reward > 0
    assert world.sector_info(99) is None


def test_runs_codec_round_trips_sparse_and_dense_numbers() -> None:
    numbers = array("Q", [0, 1, 2, 5, 9, 10, 1000, 1001])
    assert decode_runs(encode_runs(numbers)) == numbers
    assert len(encode_runs(array("Q", range(1_000_000)))) < 10


def test_state_round_trip() -> None:
    world = _world(50)
    world.faulty.add(3)
    back = World.from_state(world.to_state(), world.head)
    assert back.deadlines == world.deadlines and back.faulty == {3} and back.owner == ACC


@pytest.mark.parametrize(("field", "value"), [("sectorSize", "2KiB"), ("owner", ["f01"]), ("lotus-sim", 99)])
def test_a_bad_state_block_names_the_field(field: str, value: object) -> None:
    state = _world(4).to_state()
    state[field] = value
    with pytest.raises(FormatError, match=field if field != "lotus-sim" else "format"):
        World.from_state(state, Head(1, 1))


def test_a_million_sector_world_is_compact() -> None:
    world = _world(1_000_000, size=32 << 30, k=48)
    state = world.to_state()
    tracemalloc.start()
    back = World.from_state(state, world.head)
    back.locate(999_999)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert back.sector_count() == 1_000_000
    assert peak < 40 * 2**20, f"rebuilding a 1M-sector world peaked at {peak / 2**20:.1f} MiB"


def test_addresses_round_trip_and_checksums() -> None:
    assert Address.id(1000).to_bytes() == b"\x00\xe8\x07" and str(Address.parse("t01000")) == "t01000"
    _, f1 = keystore.wallet_key(random.Random(1), "secp256k1", "f")
    _, f3 = keystore.wallet_key(random.Random(1), "bls", "t")
    for addr in (f1, f3):
        assert Address.parse(str(addr)) == addr
        assert Address.from_bytes(addr.to_bytes(), addr.network) == addr
        text = str(addr)
        broken = text[:10] + ("a" if text[10] != "a" else "b") + text[11:]
        with pytest.raises(ValueError, match="checksum"):
            Address.parse(broken)
    assert str(f1).startswith("f1") and str(f3).startswith("t3")


def test_keystore_files_and_tokens(tmp_path: Path) -> None:
    assert keystore.key_file_name("auth-jwt-private") == "MF2XI2BNNJ3XILLQOJUXMYLUMU"  # Lotus's real name
    secret = b"s" * 32
    keystore.write_key(tmp_path, keystore.JWT_KEY, keystore.KeyInfo("jwt-hmac-secret", secret))
    key, address = keystore.wallet_key(random.Random(2), "bls", "f")
    keystore.write_key(tmp_path, f"wallet-{address}", key)
    assert keystore.read_jwt_secret(tmp_path) == secret
    assert keystore.wallet_addresses(tmp_path) == [str(address)]
    assert (tmp_path / "keystore").stat().st_mode & 0o777 == 0o700
    assert keystore.KeyInfo.from_export(key.export()) == key
    exported = json.loads(bytes.fromhex(key.export()))
    assert exported == {"Type": "bls", "PrivateKey": base64.b64encode(key.private_key).decode()}
    header, payload, signature = keystore.hs256_token(secret, ("read",)).split(".")
    expected = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "==") == expected
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == {"Allow": ["read"]}
    _, peer = keystore.libp2p_key(random.Random(3))
    assert peer.startswith("12D3KooW") and len(peer) == 52


def test_bad_key_files_and_storage_configs_are_named(tmp_path: Path) -> None:
    (tmp_path / "keystore").mkdir()
    (tmp_path / "keystore" / keystore.key_file_name("auth-jwt-private")).write_text('{"Type": "x"}')
    with pytest.raises(ValueError, match="MF2XI2BNNJ3XILLQOJUXMYLUMU: expected KeyInfo JSON"):
        keystore.read_jwt_secret(tmp_path)
    with pytest.raises(ValueError, match="hex of KeyInfo JSON"):
        keystore.KeyInfo.from_export("zz")
    with pytest.raises(ValueError, match="storage.json: missing"):
        sectorstore.read_storage_json(tmp_path)
    (tmp_path / "storage.json").write_text('{"StoragePaths": [{"Path": "relative/store"}]}')
    with pytest.raises(ValueError, match="relative"):
        sectorstore.read_storage_json(tmp_path)
    with pytest.raises(ValueError, match="sectorstore.json: missing"):
        sectorstore.read_sectorstore(tmp_path)
