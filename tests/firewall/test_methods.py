"""The refusal table against the Lotus documents and source: complete, no typos, every signing path refused."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from spdrill.firewall.doc import render_table, splice
from spdrill.firewall.methods import ALIASES, PLAIN_READS, REFUSED, RULES, Verdict, canonical, is_refused, rule_for
from spdrill.firewall.rules import address_key, decide, parse

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "lotus-api"
LOTUS_GIT = Path("/work/.mirror/filecoin-project+lotus/repo")
LOTUS_COMMIT = "b835fab702ebce57abd7e6d0c3326bbd1e18c008"  # the commit ../shared/lotus-api was copied from (SOURCE.txt)

# Methods whose names say they sign, send or change keys; each must be refused.
MUST_REFUSE = [
    r"Mpool\w*Push\w*",
    r"Wallet(Sign\w*|Import|New|SetDefault|Delete|Export)",
    r"SyncSubmitBlock|MinerCreateBlock|ChainSetHead|Sync(Mark|Unmark)\w*|SyncCheckpoint",
    r"Msig(Create|Propose|Approve\w*|Cancel\w*|Add\w+|Swap\w+|RemoveSigner)",
    r"Market(AddBalance|ReserveFunds|ReleaseFunds|Withdraw)",
    r"Paych(Get|Fund|Settle|Collect|NewPayment|VoucherCreate|VoucherSubmit)",
    r"Eth\w*SendRaw\w*",
    r"F3(Participate|GetOrRenewParticipationTicket)",
    r"AuthNew|Shutdown|NetConnect",
]
READ_ONLY_ADMIN = {"LogAlerts", "ChainCheckBlockstore"}


@pytest.fixture(scope="module")
def full_json() -> set[str]:
    """Method names of build/openrpc/full.json, without the Filecoin. namespace."""
    path = SHARED / "full.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent: the Lotus API documents live in ../shared")
    return {m["name"].removeprefix("Filecoin.") for m in json.loads(path.read_text())["methods"]}


@pytest.fixture(scope="module")
def v1_methods(full_json: set[str]) -> set[str]:
    """full.json plus the Common/Net methods it omits (SOURCE.txt NOTE), from api-methods-v1-stable.md."""
    headings = set(re.findall(r"^### (\w+)$", (SHARED / "api-methods-v1-stable.md").read_text(), re.M))
    return full_json | (headings - {"Execution"})  # "Execution" is a prose heading, not a method


def test_every_method_is_classified_exactly_once(v1_methods: set[str]) -> None:
    named = [r.name for r in RULES]
    assert len(named) == len(set(named)), "a method has two rows"
    assert not set(named) & PLAIN_READS
    assert set(named) | PLAIN_READS == v1_methods, "Lotus changed its API: classify the difference"


def test_every_refused_name_exists_in_lotus(v1_methods: set[str]) -> None:
    assert REFUSED - v1_methods == set()
    assert set(ALIASES.values()) <= REFUSED


def test_methods_that_sign_or_send_are_refused(v1_methods: set[str]) -> None:
    matched = {m for m in v1_methods for pattern in MUST_REFUSE if re.fullmatch(pattern, m)}
    assert len(matched) >= 50
    assert matched - REFUSED == set()


def test_every_sign_and_admin_method_is_refused() -> None:
    """The daemon refuses these to our read+write token anyway; refusing here makes it evidence."""
    for rule in RULES:
        if rule.perm == "sign" or (rule.perm == "admin" and rule.name not in READ_ONLY_ADMIN):
            assert rule.verdict is Verdict.REFUSED, rule


def test_perm_tags_and_lines_match_lotus_source() -> None:
    """Each row's `//perm:` tag is on the cited line of Lotus api/*.go (e.g. api/api_full.go:313 MpoolPushMessage)."""
    if not LOTUS_GIT.is_dir():
        pytest.skip(f"{LOTUS_GIT} is absent: the Lotus source mirror is needed to check cited lines")
    files: dict[str, list[str]] = {}
    for rule in RULES:
        path, line = rule.source.split(":")
        if path not in files:
            show = ["git", f"--git-dir={LOTUS_GIT}", "show", f"{LOTUS_COMMIT}:{path}"]
            files[path] = subprocess.run(show, capture_output=True, text=True, check=True).stdout.splitlines()
        text = files[path][int(line) - 1]
        assert f"//perm:{rule.perm}" in text, (rule, text)
        declared = text if f"{rule.name}(" in text else files[path][int(line) - 2]
        assert re.search(rf"\b{rule.name}\(", declared), (rule, declared)


def test_wallet_reads_and_waits_are_forwarded() -> None:
    for name in ["WalletList", "WalletBalance", "StateWaitMsg", "MpoolGetNonce", "ChainNotify", "StateAccountKey"]:
        assert not is_refused(f"Filecoin.{name}"), name
    rule = rule_for("Filecoin.WalletHas")
    assert rule is not None and rule.verdict is Verdict.ANSWERED


def test_wire_names_are_canonicalised() -> None:
    """go-jsonrpc resolves aliases before dispatch (handler.go:316-320); Lotus aliases eth_* (api/eth_aliases.go:28)."""
    assert canonical("Filecoin.MpoolPushMessage") == "MpoolPushMessage"
    assert is_refused("eth_sendRawTransaction") and is_refused("filecoin.walletsign") and is_refused("WalletSign")
    assert not is_refused("Filecoin.WalletSignature") and not is_refused("eth_call")


def test_duplicate_method_keys_cannot_smuggle_a_refused_call() -> None:
    """Go's encoding/json folds key case and keeps the last duplicate; any refused spelling refuses the call."""
    for body in [
        '{"id":1,"method":"Filecoin.ChainHead","Method":"Filecoin.MpoolPushMessage"}',
        '{"id":1,"Method":"Filecoin.MpoolPushMessage","method":"Filecoin.ChainHead"}',
    ]:
        assert decide(parse(body), set()).action == "refuse"


def test_wallethas_needs_exactly_one_matching_address() -> None:
    key = "f3abc"
    assert decide(parse('{"id":1,"method":"Filecoin.WalletHas","params":["t3ABC"]}'), {key}).action == "answer"
    assert decide(parse('{"id":1,"method":"Filecoin.WalletHas","params":["f3abd"]}'), {key}).action == "forward"
    assert decide(parse('{"id":1,"method":"Filecoin.WalletHas","params":[]}'), {key}).action == "forward"
    assert address_key("f01234") == address_key("t01234") == "01234"


def test_document_matches_the_table() -> None:
    """docs/chain-firewall.md carries the generated table; regenerate with `python -m spdrill.firewall.doc`."""
    document = (ROOT / "docs" / "chain-firewall.md").read_text()
    assert render_table() in document
    assert splice(document) == document
