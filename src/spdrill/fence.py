"""The fence: a standby must never hold the miner's keys nor produce blocks (DESIGN safety rule 2)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from spdrill.errors import DrillError, SafetyError
from spdrill.lotus.address import normalize, normalized_set
from spdrill.lotusconfig import set_section_keys
from spdrill.workfs import LocalFS, WorkFS

ENV_OVERRIDE = "LOTUS_SUBSYSTEMS_DISABLEWINNINGPOST"


@dataclass(frozen=True)
class KeyHolder:
    """Who signs for one of the miner's addresses: an account's key, or every signer's key of a multisig."""

    address: str  # as StateMinerInfo names it (an ID address)
    keys: tuple[str, ...]  # the key addresses a wallet would hold
    threshold: int | None = None  # set for a multisig: approvals needed out of len(keys)

    @classmethod
    def account(cls, address: str, key: str | None = None) -> KeyHolder:
        return cls(address, (key or address,))

    def describe(self, role: str) -> str | None:
        """A line for the report when the address is a multisig; None for an account."""
        if self.threshold is None:
            return None
        return (f"{role} {self.address} is a multisig ({self.threshold} of {len(self.keys)}); its "
                f"{len(self.keys)} signers checked")


Holder = str | KeyHolder


def _holder(h: Holder) -> KeyHolder:
    return h if isinstance(h, KeyHolder) else KeyHolder.account(h)


@dataclass(frozen=True)
class FenceReport:
    """What the fence checked, for the journal: addresses looked for, wallet size, config verdict."""

    checked_addresses: tuple[str, ...]
    wallet_size: int
    config: str
    notes: tuple[str, ...] = ()  # e.g. "owner f01001 is a multisig (2 of 3); its 3 signers checked"

    def summary(self) -> str:
        notes = "".join(f"; {n}" for n in self.notes)
        return (f"verified: none of {len(self.checked_addresses)} owner/worker/control addresses in the "
                f"standby wallet ({self.wallet_size} keys){notes}; {self.config}")


def write_winning_post_fence(config: Path, fs: WorkFS | None = None) -> None:
    """Set `[Subsystems] DisableWinningPoSt = true` in a miner config (the workspace copy), keeping the rest."""
    fs = fs or LocalFS()
    fs.write_text(config, with_winning_post_fence(fs.read_text(config) if fs.is_file(config) else ""))


def with_winning_post_fence(text: str) -> str:
    """The config text with `[Subsystems] DisableWinningPoSt = true`, everything else kept (pure)."""
    return set_section_keys(text, "Subsystems", {"DisableWinningPoSt": "true"})


def verify_config_fence(config: Path, env: Mapping[str, str], fs: WorkFS | None = None) -> str:
    """Read the effective setting back (file, then Lotus's env override); SafetyError unless it is true."""
    fs = fs or LocalFS()
    try:
        doc = tomllib.loads(fs.read_text(config))
    except (OSError, DrillError, tomllib.TOMLDecodeError) as exc:
        raise SafetyError(f"fence: cannot read the miner config {config}: {exc}; lotus-miner was not started") from None
    value = doc.get("Subsystems", {}).get("DisableWinningPoSt")
    if value is not True:
        raise SafetyError(f"fence: {config} has [Subsystems] DisableWinningPoSt = {value!r}, need true; the "
                          "standby could produce blocks for the live actor (a consensus fault). lotus-miner was "
                          "not started")
    override = env.get(ENV_OVERRIDE)
    if override is not None and override.strip().lower() not in ("true", "1"):
        raise SafetyError(f"fence: the standby environment sets {ENV_OVERRIDE}={override}, which overrides the "
                          "config and enables block production; remove it from [standby.env]. lotus-miner was "
                          "not started")
    return "config: [Subsystems] DisableWinningPoSt = true (read back)"


def verify_wallet_fence(wallet: Iterable[str], owner: Holder, worker: Holder, control: Iterable[Holder],
                        *, id_of: Mapping[str, str] | None = None) -> tuple[tuple[str, ...], int]:
    """SafetyError if the standby wallet holds the owner, worker or a control key (or a key of a multisig
    signer of one of them); names the address only."""
    keys = list(wallet)
    held = normalized_set(keys)  # a testnet wallet lists t1…/t3…, the same keys as f1…/f3…
    wanted = {"owner": [owner], "worker": [worker], "control": list(control)}
    checked: list[str] = []
    for role, holders in wanted.items():
        for holder in map(_holder, holders):
            for addr in holder.keys:
                checked.append(addr)
                aliases = {normalize(addr), normalize((id_of or {}).get(addr, addr))}
                if not held & aliases:
                    continue
                whose = (f"a signer key of the {role} multisig {holder.address} ({addr})"
                         if holder.threshold is not None else f"the {role} key of the miner ({addr})")
                raise SafetyError(f"fence: the standby daemon's wallet holds {whose}; a drill standby must not "
                                  "be able to sign for the live actor. Remove the key from the restored daemon "
                                  "repo (keystore) and re-run; lotus-miner was not started")
    return tuple(checked), len(keys)
