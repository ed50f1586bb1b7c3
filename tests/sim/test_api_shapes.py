"""Every implemented RPC method, called on live stand-in programs, has the shape of the Lotus docs' example.

Shape = the same keys and JSON types, recursively: the examples in ../shared/lotus-api/{full,miner,
worker}.json (`result.schema.examples`) and the Response blocks of api-methods-*.md. The generated schemas
are used too, where the docs' own example passes them. Every method's `Perms:` is checked against the docs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from lotus_sim import keystore
from lotus_sim.perms import DAEMON_PERMS, MINER_PERMS, WORKER_PERMS
from lotus_sim.rpcclient import RpcClient
from tests.sim.simproc import SHARED, Stand, make_stand

API_DOCS = SHARED / "lotus-api"
pytestmark = pytest.mark.skipif(not API_DOCS.is_dir(), reason=f"Lotus API documents not found at {API_DOCS}")

# Go pointers and nil slices marshal to null; the docs' examples always show them filled in.
NULLABLE = {"SectorKeyCID", "PendingOwnerAddress", "PendingBeneficiaryTerm", "Base", "Target", "Multiaddrs",
            "Tasks", "TaskCounts", "Skipped"}
# Keys of these shapes are data (IDs, sector numbers, task names), not field names.
_MAP_KEY = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+|[a-z]+/v\d+/.+)$")
# Methods deliberately not called: Shutdown ends the process under test; ChainNotify returns a channel,
# which HTTP cannot carry (its shape is checked over WebSocket in test_websocket.py).
NOT_CALLED = {"Shutdown", "ChainNotify"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return type(value).__name__


def shape_errors(ours: Any, example: Any, path: str = "$") -> list[str]:
    """Differences in keys and JSON types between a result and a docs example (empty when shapes agree)."""
    if example is None:
        return []  # the docs show nothing to compare with (a nil value in Go)
    if ours is None:
        key = path.rsplit(".", 1)[-1].split("[")[0]
        return [] if key in NULLABLE else [f"{path}: null where the docs show {_kind(example)}"]
    if isinstance(example, bool) or isinstance(ours, bool):
        return [] if isinstance(ours, bool) and isinstance(example, bool) else [
            f"{path}: {_kind(ours)} where the docs show {_kind(example)}"]
    if isinstance(example, float):
        return [] if isinstance(ours, int | float) else [f"{path}: {_kind(ours)} where the docs show float"]
    if isinstance(example, int | str):
        return [] if type(ours) is type(example) else [
            f"{path}: {_kind(ours)} where the docs show {_kind(example)}"]
    if isinstance(example, list):
        if not isinstance(ours, list):
            return [f"{path}: {_kind(ours)} where the docs show list"]
        if not example:
            return []
        return [e for i, item in enumerate(ours[:50]) for e in shape_errors(item, example[0], f"{path}[{i}]")]
    if not isinstance(ours, dict):
        return [f"{path}: {_kind(ours)} where the docs show object"]
    if not example:  # an interface{} (e.g. ActorState.State): the docs show {}, any object fits
        return []
    if example and all(_MAP_KEY.match(k) for k in example):
        template = next(iter(example.values()))
        errors = [f"{path}: key {k!r} is not like the docs' keys" for k in ours if not _MAP_KEY.match(k)]
        return errors + [e for k, v in ours.items() for e in shape_errors(v, template, f"{path}.{k}")]
    errors = []
    if set(ours) != set(example):
        errors.append(f"{path}: keys {sorted(set(ours) ^ set(example))} differ from the docs")
    for key in set(ours) & set(example):
        errors += shape_errors(ours[key], example[key], f"{path}.{key}")
    return errors


def _md_examples(name: str) -> dict[str, Any]:
    text = (API_DOCS / name).read_text()
    out: dict[str, Any] = {}
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        method = section.split("\n", 1)[0].strip()
        match = re.search(r"^Response:\s*(?:`([^`\n]+)`|```json\n(.*?)```)", section, re.M | re.S)
        if match:
            out[method] = json.loads(match.group(1) or match.group(2))
    return out


def _md_perms(name: str) -> dict[str, str]:
    text = (API_DOCS / name).read_text()
    out = {}
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        match = re.search(r"^Perms: (\w+)", section, re.M)
        if match:
            out[section.split("\n", 1)[0].strip()] = match.group(1)
    return out


def _json_schemas(name: str) -> dict[str, dict[str, Any]]:
    doc = json.loads((API_DOCS / name).read_text())
    return {m["name"].removeprefix("Filecoin."): m["result"]["schema"] for m in doc["methods"]}


DOCS = {
    "daemon": ("api-methods-v1-stable.md", "full.json", DAEMON_PERMS),
    "miner": ("api-methods-miner.md", "miner.json", MINER_PERMS),
    "worker": ("api-methods-worker.md", "worker.json", WORKER_PERMS),
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stand]:
    """Daemon + miner + worker from a fixture; the worker key in the wallet so signing calls succeed."""
    stand = make_stand(tmp_path_factory.mktemp("shapes"))
    secrets = stand.root / "secrets"
    worker_file = next(secrets.glob("worker-*.key"))
    key = keystore.KeyInfo.from_export(worker_file.read_text().strip())
    keystore.write_key(stand.lotus_repo, f"wallet-{stand.info['worker']['key']}", key)
    # One unreadable sector, so CheckProvable and ComputeWindowPoSt return non-empty maps and lists.
    first = stand.info["deadlines"]["0"][0][0]
    for store in stand.root.glob("restore-point/storage/store-*"):
        (store / "sealed" / f"s-t0{stand.info['miner_id']}-{first}").unlink(missing_ok=True)
    assert stand.import_snapshot().returncode == 0
    stand.start_daemon()
    backups = stand.root / "online-backups"
    backups.mkdir()
    stand.start_miner("--nosync", env={"LOTUS_BACKUP_BASE_PATH": str(backups)})
    stand.start_worker()
    try:
        yield stand
    finally:
        stand.stop_all()


def _calls(stand: Stand) -> dict[str, dict[str, list[Any]]]:
    miner, info = stand.info["miner"], stand.info
    daemon = stand.daemon()
    head = daemon.call("ChainHead")["Height"]
    mi = daemon.call("StateMinerInfo", miner, [])
    sid = next(iter(stand.miner().call("StorageLocal")))
    ref: dict[str, Any] = {"ID": {"Miner": info["miner_id"], "Number": info["deadlines"]["0"][0][0]},
                           "ProofType": 5}
    challenge = {"SealProof": 5, "SectorNumber": info["deadlines"]["0"][0][1], "SealedCID": {"/": "bafy"},
                 "Challenge": [1], "Update": False}
    worker_url = f"http://{(stand.worker_repo / 'api').read_text().split('/')[2]}:" \
                 f"{(stand.worker_repo / 'api').read_text().split('/')[4]}/rpc/v0"
    return {
        "daemon": {
            "Version": [], "Session": [], "AuthNew": [["read"]], "AuthVerify": [daemon.token],
            "ChainHead": [], "ChainGetTipSetByHeight": [head - 1, []], "SyncState": [], "NodeStatus": [True],
            "StateNetworkVersion": [[]], "StateMinerInfo": [miner, []],
            "StateMinerProvingDeadline": [miner, []],
            "StateMinerDeadlines": [miner, []], "StateMinerPartitions": [miner, 0, []],
            "StateMinerSectors": [miner, None, []], "StateMinerActiveSectors": [miner, []],
            "StateMinerFaults": [miner, []], "StateMinerRecoveries": [miner, []],
            "StateSectorGetInfo": [miner, ref["ID"]["Number"], []], "StateMinerPower": [miner, []],
            "StateAccountKey": [mi["Worker"], []], "StateReadState": [mi["Worker"], []],
            "WalletList": [], "WalletHas": [info["worker"]["key"]],
            "WalletDefaultAddress": [],
            "MpoolPushMessage": [
                {"To": miner, "From": mi["Worker"], "Value": "0", "Method": 2, "Params": ""}, None],
        },
        "miner": {
            "Version": [], "Session": [], "AuthNew": [["read"]], "AuthVerify": [stand.miner().token],
            "ActorAddress": [], "ActorSectorSize": [miner], "SectorsList": [], "StorageList": [],
            "StorageLocal": [], "StorageStat": [sid], "StorageFindSector": [ref["ID"], 6, 0, False],
            "WorkerConnect": [worker_url], "WorkerStats": [],
            "ComputeWindowPoSt": [0, []], "CheckProvable": [mi["WindowPoStProofType"], [ref]],
            "CreateBackup": [str(stand.root / "online-backups" / "b.cbor")], "RuntimeSubsystems": [],
        },
        "worker": {
            "Version": [], "Session": [], "Info": [], "Paths": [], "Enabled": [], "TaskTypes": [],
            "GenerateWindowPoSt": [mi["WindowPoStProofType"], info["miner_id"], [challenge], 0, "AAAA"],
        },
    }


def _client(stand: Stand, role: str) -> RpcClient:
    if role == "daemon":
        return stand.daemon()
    return stand.miner() if role == "miner" else stand.worker()


@pytest.mark.parametrize("role", ["daemon", "miner", "worker"])
def test_every_method_is_walked(live: Stand, role: str) -> None:
    perms = DOCS[role][2]
    assert set(_calls(live)[role]) == set(perms) - NOT_CALLED


@pytest.mark.parametrize("role", ["daemon", "miner", "worker"])
def test_results_have_the_docs_shapes(live: Stand, role: str) -> None:
    md_name, json_name, _ = DOCS[role]
    md, schemas = _md_examples(md_name), _json_schemas(json_name)
    client = _client(live, role)
    problems: list[str] = []
    for method, params in _calls(live)[role].items():
        result = client.call(method, *params)
        examples = []
        if method in schemas and schemas[method].get("examples"):
            examples.append(("json", schemas[method]["examples"][0]))
        if schemas.get(method, {}).get("type") == ["null"]:
            # Methods that return only an error: the schema says null (the markdown shows `{}` for them).
            if result is not None:
                problems.append(f"{method}: returned {_kind(result)} where the schema says null")
            continue
        if method in md:
            examples.append(("md", md[method]))
        if not examples:
            problems.append(f"{method}: no example in the docs")
        if result is None:
            problems.append(f"{method}: returned null")
        for source, example in examples:
            problems += [f"{method} ({source}) {e}" for e in shape_errors(result, example)]
        schema = schemas.get(method)
        if schema and examples and _valid(examples[0][1], schema) and not _valid(result, schema):
            problems.append(f"{method}: result fails the docs' JSON schema although the example passes it")
    assert not problems, "\n".join(problems)


def _valid(value: Any, schema: dict[str, Any]) -> bool:
    try:
        jsonschema.validate(value, {k: v for k, v in schema.items() if k != "examples"})
    except (jsonschema.ValidationError, jsonschema.SchemaError):
        return False
    return True


@pytest.mark.parametrize("role", ["daemon", "miner", "worker"])
def test_perms_match_the_docs(role: str) -> None:
    md_name, _, perms = DOCS[role]
    documented = _md_perms(md_name)
    wrong = {m: (p, documented.get(m)) for m, p in perms.items() if documented.get(m) != p}
    assert not wrong, f"ours vs docs: {wrong}"


@pytest.mark.parametrize(
    ("ours", "example", "fragment"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, "keys ['b']"),
        ({"a": "1"}, {"a": 1}, "$.a: str where the docs show int"),
        ([{"x": True}], [{"x": 1}], "$[0].x: bool"),
        ({"Owner": None}, {"Owner": "f01"}, "null where"),
        ({"not-an-id": {}}, {"76f1988b-ef30-4d7e-b3ec-9a627f4ba5a8": {}}, "not like the docs' keys"),
    ],
)
def test_shape_checker_catches_differences(ours: Any, example: Any, fragment: str) -> None:
    assert any(fragment in e for e in shape_errors(ours, example))


def test_shape_checker_accepts_maps_floats_and_nullable() -> None:
    assert shape_errors({"123": "bad"}, {"9": "x"}) == []
    assert shape_errors({"F": 1}, {"F": 12.3}) == []
    assert shape_errors({"SectorKeyCID": None}, {"SectorKeyCID": {"/": "b"}}) == []


def test_docs_parsers_find_known_entries() -> None:
    assert _md_perms("api-methods-v1-stable.md")["MpoolPushMessage"] == "sign"
    assert _md_examples("api-methods-v1-stable.md")["Version"]["APIVersion"] == 131840
    assert Path(API_DOCS / "full.json").is_file()
