"""Lotus's JSON forms of miner state: SectorOnChainInfo (also streamed for huge miners) and MinerInfo."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from lotus_sim.policy import STORAGE_PLEDGE_DAYS, sector_rows
from lotus_sim.rpc import JsonStream
from lotus_sim.world import SectorInfo, World

__all__ = ["miner_info_json", "sector_json", "sector_json_text", "sector_stream", "sector_texts"]


def sector_json(info: SectorInfo) -> dict[str, Any]:
    """SectorOnChainInfo JSON of one sector (SectorKeyCID is null: never snap-upgraded)."""
    return {
        "SectorNumber": info.number,
        "SealProof": info.seal_proof,
        "SealedCID": {"/": info.sealed_cid},
        "Activation": info.activation,
        "Expiration": info.expiration,
        "DealWeight": str(info.deal_weight),
        "VerifiedDealWeight": str(info.verified_deal_weight),
        "InitialPledge": str(info.initial_pledge),
        "ExpectedDayReward": str(info.expected_day_reward),
        "ExpectedStoragePledge": str(info.expected_storage_pledge),
        "PowerBaseEpoch": info.power_base_epoch,
        "ReplacedDayReward": str(info.replaced_day_reward),
        "SectorKeyCID": None,
        "Flags": info.flags,
        "DailyFee": str(info.daily_fee),
    }


_SECTOR_TEMPLATE = (
    '{{"SectorNumber":{n},"SealProof":{p},"SealedCID":{{"/":"{cid}"}},"Activation":{a},"Expiration":{e},'
    '"DealWeight":"{dw}","VerifiedDealWeight":"{vdw}","InitialPledge":"{ip}","ExpectedDayReward":"{edr}",'
    '"ExpectedStoragePledge":"{esp}","PowerBaseEpoch":{pbe},"ReplacedDayReward":"{rdr}","SectorKeyCID":null,'
    '"Flags":{f},"DailyFee":"{fee}"}}'
)


def sector_json_text(info: SectorInfo) -> str:
    """sector_json(info), encoded: a template is several times faster than json.dumps per sector."""
    return _SECTOR_TEMPLATE.format(
        n=info.number, p=info.seal_proof, cid=info.sealed_cid, a=info.activation, e=info.expiration,
        dw=info.deal_weight, vdw=info.verified_deal_weight, ip=info.initial_pledge,
        edr=info.expected_day_reward, esp=info.expected_storage_pledge, pbe=info.power_base_epoch,
        rdr=info.replaced_day_reward, f=info.flags, fee=info.daily_fee,
    )


def miner_info_json(w: World) -> dict[str, Any]:
    """MinerInfo JSON (no pending worker, owner or beneficiary changes)."""
    return {
        "Owner": w.owner.id_address,
        "Worker": w.worker.id_address,
        "NewWorker": "<empty>",
        "ControlAddresses": [c.id_address for c in w.controls],
        "WorkerChangeEpoch": -1,
        "PeerId": w.peer_id,
        "Multiaddrs": [],
        "WindowPoStProofType": w.proofs.window_post_proof,
        "SectorSize": w.sector_size,
        "WindowPoStPartitionSectors": w.proofs.partition_sectors,
        "ConsensusFaultElapsed": -1,
        "PendingOwnerAddress": None,
        "Beneficiary": w.owner.id_address,
        "BeneficiaryTerm": {"Quota": "0", "UsedQuota": "0", "Expiration": 0},
        "PendingBeneficiaryTerm": None,
    }


# The fields sector_info sets to zero or null for every sector are literal here; a test compares this encoding
# with sector_json for every field, so a change to sector_info cannot leave it behind.
_FAST_TEMPLATE = (
    '{"SectorNumber":%d,"SealProof":%d,"SealedCID":{"/":"%s"},"Activation":%d,"Expiration":%d,'
    '"DealWeight":"0","VerifiedDealWeight":"0","InitialPledge":"%d","ExpectedDayReward":"%d",'
    '"ExpectedStoragePledge":"%d","PowerBaseEpoch":%d,"ReplacedDayReward":"0","SectorKeyCID":null,'
    '"Flags":0,"DailyFee":"0"}'
)


def sector_texts(w: World, numbers: Iterable[int], known_live: bool = False) -> Iterator[str]:
    """sector_json_text of each live sector among ``numbers``, without building a SectorInfo for each."""
    proof = w.proofs.seal_proof
    live = numbers if known_live else filter(w.has_sector, numbers)
    template = _FAST_TEMPLATE
    for n, cid, activation, expiration, pledge, reward in sector_rows(live, w.seed, w.sector_size,
                                                                       w.head.height, w.miner_id):
        yield template % (n, proof, cid, activation, expiration, pledge, reward, reward * STORAGE_PLEDGE_DAYS,
                          activation)


def sector_stream(w: World, numbers: Iterable[int]) -> JsonStream:
    """A streamed JSON list of SectorOnChainInfo for the live sectors among `numbers`."""

    def fragments() -> Iterator[str]:
        yield "["
        first = True
        for text in sector_texts(w, numbers):
            yield text if first else "," + text
            first = False
        yield "]"

    return JsonStream(fragments())
