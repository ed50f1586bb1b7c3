"""What the chain firewall does with each FullNode API method: refuse it, answer it, or forward it.

The table covers every method of the Lotus FullNode v1 API (build/openrpc/full.json plus the
Common/Net methods that the OpenRPC file leaves out but api-methods-v1-stable.md lists). Each row
carries the `//perm:` tag and the line of Lotus's api/*.go that declares it (Lotus commit b835fab7,
v1.36.2-dev), so a reviewer can check the classification against the source.

The rule behind it: refuse every method tagged `sign` or `admin` (except two read-only admin
methods), and every `write` or `read` method that sends, signs, changes the wallet or steers the
standby towards other peers. Anything not in the table (a method a later Lotus adds) is forwarded:
the upstream token carries read+write only, so the daemon itself refuses what needs `sign`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Verdict(enum.Enum):
    """What the firewall does with a call."""

    REFUSED = "refused"
    ANSWERED = "answered"
    FORWARDED = "forwarded"


@dataclass(frozen=True)
class MethodRule:
    """One method's verdict, its Lotus permission tag, where Lotus declares it, and why."""

    name: str
    verdict: Verdict
    perm: str
    source: str
    reason: str


def _row(verdict: Verdict, name: str, perm: str, line: int, reason: str, file: str) -> MethodRule:
    return MethodRule(name, verdict, perm, f"{file}:{line}", reason)


def _r(name: str, perm: str, line: int, reason: str, file: str = "api/api_full.go") -> MethodRule:
    return _row(Verdict.REFUSED, name, perm, line, reason, file)


def _a(name: str, perm: str, line: int, reason: str, file: str = "api/api_full.go") -> MethodRule:
    return _row(Verdict.ANSWERED, name, perm, line, reason, file)


def _f(name: str, perm: str, line: int, reason: str, file: str = "api/api_full.go") -> MethodRule:
    return _row(Verdict.FORWARDED, name, perm, line, reason, file)


_SIGN_AND_PUSH = "signs a message with a wallet key and pushes it: it would land on chain"
_PUSH = "pushes a signed message to the mpool and the network: it would land on chain"
_ETH_PUSH = "pushes a signed Ethereum transaction; tagged read, so only this firewall stops it"
_MSIG = "builds a multisig message, signs it with a wallet key and pushes it"
_MARKET = "signs and pushes a market-actor message that moves funds"
_PAYCH = "creates, funds, settles or collects a payment channel: signs and pushes messages"
_NETCONNECT = "dials a peer the caller names; no drill role needs it and rule 2b keeps a standby off production nodes"

RULES: tuple[MethodRule, ...] = (
    # refused
    _r("AuthNew", "admin", 31, "mints an API token with any permission, sign and admin included", "api/api_common.go"),
    _r("ChainDeleteObj", "admin", 163, "writes to or deletes from the standby chain store during the drill"),
    _r("ChainExportRangeInternal", "admin", 220, "writes files on the standby host at a path the caller picks"),
    _r("ChainHotGC", "admin", 228, "writes to or deletes from the standby chain store during the drill"),
    _r("ChainPrune", "admin", 224, "writes to or deletes from the standby chain store during the drill"),
    _r("ChainPutObj", "admin", 169, "writes to or deletes from the standby chain store during the drill"),
    _r("ChainSetHead", "admin", 177, "forces the standby head by hand: sync checks would measure a forced chain"),
    _r("CreateBackup", "admin", 979, "writes files on the standby host at a path the caller picks"),
    _r("EthSendRawTransaction", "read", 903, _ETH_PUSH),
    _r("EthSendRawTransactionUntrusted", "read", 905, _ETH_PUSH),
    _r(
        "F3GetOrRenewParticipationTicket",
        "sign",
        1029,
        "first step of F3 participation: the standby would sign finality votes as the production miner",
    ),
    _r(
        "F3Participate",
        "sign",
        1049,
        "enrols the miner in F3: the standby would sign finality votes as the production miner",
    ),
    _r("MarketAddBalance", "sign", 750, _MARKET),
    _r(
        "MarketGetReserved",
        "sign",
        752,
        "a read, but tagged sign: no drill role needs it and the upstream token could not call it",
    ),
    _r("MarketReleaseFunds", "sign", 756, _MARKET),
    _r("MarketReserveFunds", "sign", 754, _MARKET),
    _r("MarketWithdraw", "sign", 758, _MARKET),
    _r("MinerCreateBlock", "write", 349, "builds a block and signs it with the worker key (the WinningPoSt path)"),
    _r("MpoolBatchPush", "write", 316, _PUSH),
    _r("MpoolBatchPushMessage", "sign", 322, _SIGN_AND_PUSH),
    _r("MpoolBatchPushUntrusted", "write", 319, _PUSH),
    _r("MpoolPush", "write", 302, _PUSH),
    _r("MpoolPushMessage", "sign", 313, _SIGN_AND_PUSH),
    _r("MpoolPushUntrusted", "write", 305, _PUSH),
    _r("MpoolSetConfig", "admin", 344, "changes mpool policy (priority addresses, republishing)"),
    _r("MsigAddApprove", "sign", 720, _MSIG),
    _r("MsigAddCancel", "sign", 725, _MSIG),
    _r("MsigAddPropose", "sign", 715, _MSIG),
    _r("MsigApprove", "sign", 693, _MSIG),
    _r("MsigApproveTxnHash", "sign", 701, _MSIG),
    _r("MsigCancel", "sign", 705, _MSIG),
    _r("MsigCancelTxnHash", "sign", 710, _MSIG),
    _r("MsigCreate", "sign", 684, _MSIG),
    _r("MsigPropose", "sign", 689, _MSIG),
    _r("MsigRemoveSigner", "sign", 747, _MSIG),
    _r("MsigSwapApprove", "sign", 735, _MSIG),
    _r("MsigSwapCancel", "sign", 740, _MSIG),
    _r("MsigSwapPropose", "sign", 730, _MSIG),
    _r("NetBlockAdd", "admin", 52, "changes the standby's peer gating or resource limits", "api/api_net.go"),
    _r("NetBlockRemove", "admin", 53, "changes the standby's peer gating or resource limits", "api/api_net.go"),
    _r("NetConnect", "write", 30, _NETCONNECT, "api/api_net.go"),
    _r("NetProtectAdd", "admin", 56, "changes the standby's peer gating or resource limits", "api/api_net.go"),
    _r("NetProtectRemove", "admin", 57, "changes the standby's peer gating or resource limits", "api/api_net.go"),
    _r("NetSetLimit", "admin", 63, "changes the standby's peer gating or resource limits", "api/api_net.go"),
    _r(
        "PaychAllocateLane",
        "sign",
        781,
        "allocates a lane for the channel the caller pays from; tagged sign, no drill role needs it",
    ),
    _r("PaychAvailableFunds", "sign", 775, "a read of channel funds, but tagged sign: no drill role needs it"),
    _r("PaychAvailableFundsByFromTo", "sign", 776, "a read of channel funds, but tagged sign: no drill role needs it"),
    _r("PaychCollect", "sign", 780, _PAYCH),
    _r("PaychFund", "sign", 773, _PAYCH),
    _r("PaychGet", "sign", 770, _PAYCH),
    _r("PaychGetWaitReady", "sign", 774, "a read of channel funds, but tagged sign: no drill role needs it"),
    _r("PaychNewPayment", "sign", 782, _PAYCH),
    _r("PaychSettle", "sign", 779, _PAYCH),
    _r("PaychVoucherCreate", "sign", 785, "signs a payment-channel voucher with a wallet key"),
    _r("PaychVoucherSubmit", "sign", 788, _PAYCH),
    _r("Shutdown", "admin", 51, "stops the standby daemon in the middle of the drill", "api/api_common.go"),
    _r("SyncCheckpoint", "admin", 272, "forces the standby head by hand: sync checks would measure a forced chain"),
    _r("SyncMarkBad", "admin", 276, "edits the bad-block cache: a drill judges sync as the network delivers it"),
    _r(
        "SyncSubmitBlock",
        "write",
        265,
        "broadcasts a block: the standby would mine as the production miner (double-signing risk)",
    ),
    _r("SyncUnmarkAllBad", "admin", 282, "edits the bad-block cache: a drill judges sync as the network delivers it"),
    _r("SyncUnmarkBad", "admin", 279, "edits the bad-block cache: a drill judges sync as the network delivers it"),
    _r("WalletDelete", "admin", 381, "changes the standby wallet, which the fence check reads as restored"),
    _r("WalletExport", "admin", 377, "exports a private key"),
    _r("WalletImport", "admin", 379, "imports a private key: exactly what safety rule 2 forbids"),
    _r("WalletNew", "write", 358, "creates a key in the standby wallet, which must stay key-free"),
    _r("WalletSetDefault", "write", 375, "changes the wallet default, the sender of messages that name none"),
    _r("WalletSign", "sign", 366, "signs bytes or a message with a wallet key"),
    _r("WalletSignMessage", "sign", 368, "signs bytes or a message with a wallet key"),
    # answered
    _a(
        "WalletHas",
        "write",
        360,
        "true for a worker key (PreflightChecks, node/modules/storageminer.go:202); any other address is forwarded",
    ),
    # forwarded
    _f("AuthVerify", "read", 30, "reads a token's permissions", "api/api_common.go"),
    _f(
        "ChainCheckBlockstore",
        "admin",
        232,
        "tagged admin but read-only; the upstream token lacks admin, so the daemon refuses it anyway",
    ),
    _f("ChainExport", "read", 210, "channel method (WebSocket xrpc.ch.val); reads"),
    _f("ChainNotify", "read", 102, "channel method (WebSocket xrpc.ch.val); reads"),
    _f("ChainValidateIndex", "write", 94, "checks or backfills the standby's own index; no chain effect"),
    _f("EthCall", "read", 901, "executes on a scratch copy of state; nothing is kept or sent"),
    _f("EthEstimateGas", "read", 900, "executes on a scratch copy of state; nothing is kept or sent"),
    _f("EthNewBlockFilter", "read", 922, "filters and subscriptions live in the standby daemon only"),
    _f("EthNewFilter", "read", 919, "filters and subscriptions live in the standby daemon only"),
    _f("EthNewPendingTransactionFilter", "read", 925, "filters and subscriptions live in the standby daemon only"),
    _f("EthSubscribe", "read", 937, "filters and subscriptions live in the standby daemon only"),
    _f("EthUninstallFilter", "read", 928, "filters and subscriptions live in the standby daemon only"),
    _f("EthUnsubscribe", "read", 940, "filters and subscriptions live in the standby daemon only"),
    _f("GasEstimateFeeCap", "read", 241, "computes gas values; sends nothing"),
    _f("GasEstimateGasLimit", "read", 245, "computes gas values; sends nothing"),
    _f("GasEstimateGasPremium", "read", 251, "computes gas values; sends nothing"),
    _f("GasEstimateMessageGas", "read", 254, "computes gas values; sends nothing"),
    _f(
        "LogAlerts",
        "admin",
        40,
        "tagged admin but read-only; the upstream token lacks admin, so the daemon refuses it anyway",
        "api/api_common.go",
    ),
    _f("LogList", "write", 35, "the standby daemon's own log levels", "api/api_common.go"),
    _f("LogSetLevel", "write", 36, "the standby daemon's own log levels", "api/api_common.go"),
    _f("MpoolCheckMessages", "read", 325, "reads the mpool; sends nothing"),
    _f("MpoolCheckPendingMessages", "read", 327, "reads the mpool; sends nothing"),
    _f("MpoolCheckReplaceMessages", "read", 329, "reads the mpool; sends nothing"),
    _f("MpoolClear", "write", 339, "drops the standby's own pending messages; nothing reaches the chain"),
    _f("MpoolGetConfig", "read", 342, "reads the mpool; sends nothing"),
    _f("MpoolGetNonce", "read", 333, "reads the mpool; sends nothing"),
    _f("MpoolPending", "read", 296, "reads the mpool; sends nothing"),
    _f("MpoolSelect", "read", 299, "reads the mpool; sends nothing"),
    _f("MpoolSub", "read", 334, "channel method (WebSocket xrpc.ch.val); reads"),
    _f("NetDisconnect", "write", 32, "only drops a peer", "api/api_net.go"),
    _f("PaychVoucherAdd", "write", 786, "the local voucher store; nothing is signed or sent"),
    _f("PaychVoucherList", "write", 787, "the local voucher store; nothing is signed or sent"),
    _f("StateCall", "read", 397, "executes on a scratch copy of state; nothing is kept or sent"),
    _f("StateCompute", "read", 615, "executes on a scratch copy of state; nothing is kept or sent"),
    _f("StateReplay", "read", 415, "executes on a scratch copy of state; nothing is kept or sent"),
    _f("StateSearchMsg", "read", 517, "waits for or looks up a message already on chain"),
    _f("StateWaitMsg", "read", 536, "waits for or looks up a message already on chain"),
    _f("SubscribeActorEventsRaw", "read", 1006, "channel method (WebSocket xrpc.ch.val); reads"),
    _f("SyncIncomingBlocks", "read", 269, "channel method (WebSocket xrpc.ch.val); reads"),
    _f("WalletBalance", "read", 364, "reads; uses no private key"),
    _f(
        "WalletDefaultAddress",
        "write",
        373,
        "lists addresses, no key material; the fence check reads the wallet this way",
    ),
    _f("WalletList", "write", 362, "lists addresses, no key material; the fence check reads the wallet this way"),
    _f("WalletValidateAddress", "read", 383, "reads; uses no private key"),
    _f("WalletVerify", "read", 371, "reads; uses no private key"),
)

# Every other method: reads chain, state, mpool or node facts and changes nothing.
_PLAIN_READS = """
    ChainBlockstoreInfo ChainGetBlock ChainGetBlockMessages ChainGetEvents ChainGetFinalizedTipSet
    ChainGetGenesis ChainGetMessage ChainGetMessagesInTipset ChainGetNode ChainGetParentMessages
    ChainGetParentReceipts ChainGetPath ChainGetTipSet ChainGetTipSetAfterHeight ChainGetTipSetByHeight
    ChainHasObj ChainHead ChainReadObj ChainStatObj ChainTipSetWeight Closing Discover EthAccounts
    EthAddressToFilecoinAddress EthBaseFee EthBlockNumber EthChainId EthFeeHistory EthGasPrice EthGetBalance
    EthGetBlockByHash EthGetBlockByNumber EthGetBlockReceipts EthGetBlockReceiptsLimited
    EthGetBlockTransactionCountByHash EthGetBlockTransactionCountByNumber EthGetCode EthGetFilterChanges
    EthGetFilterLogs EthGetLogs EthGetMessageCidByTransactionHash EthGetStorageAt
    EthGetTransactionByBlockHashAndIndex EthGetTransactionByBlockNumberAndIndex EthGetTransactionByHash
    EthGetTransactionByHashLimited EthGetTransactionCount EthGetTransactionHashByCid EthGetTransactionReceipt
    EthGetTransactionReceiptLimited EthMaxPriorityFeePerGas EthProtocolVersion EthSyncing EthTraceBlock
    EthTraceFilter EthTraceReplayBlockTransactions EthTraceTransaction F3GetCertificate F3GetECPowerTable
    F3GetF3PowerTable F3GetLatestCertificate F3GetManifest F3GetPowerTableByInstance F3GetProgress F3IsRunning
    F3ListParticipants FilecoinAddressToEthAddress GetActorEventsRaw ID MinerGetBaseInfo MsigGetAvailableBalance
    MsigGetPending MsigGetVested MsigGetVestingSchedule NetAddrsListen NetAgentVersion NetAutoNatStatus
    NetBandwidthStats NetBandwidthStatsByPeer NetBandwidthStatsByProtocol NetBlockList NetConnectedness
    NetFindPeer NetLimit NetListening NetPeerInfo NetPeers NetPing NetProtectList NetPubsubScores NetStat
    NetVersion NodeStatus PaychList PaychStatus PaychVoucherCheckSpendable PaychVoucherCheckValid Session
    StartTime StateAccountKey StateActorCodeCIDs StateActorManifestCID StateAllMinerFaults StateChangedActors
    StateCirculatingSupply StateComputeDataCID StateDealProviderCollateralBounds StateDecodeParams
    StateEncodeParams StateGetActor StateGetAllAllocations StateGetAllClaims StateGetAllocation
    StateGetAllocationForPendingDeal StateGetAllocationIdForPendingDeal StateGetAllocations StateGetBeaconEntry
    StateGetClaim StateGetClaims StateGetNetworkParams StateGetRandomnessDigestFromBeacon
    StateGetRandomnessDigestFromTickets StateGetRandomnessFromBeacon StateGetRandomnessFromTickets
    StateListActors StateListMessages StateListMiners StateLookupID StateLookupRobustAddress StateMarketBalance
    StateMarketDeals StateMarketParticipants StateMarketProposalPending StateMarketStorageDeal
    StateMinerActiveSectors StateMinerAllocated StateMinerAvailableBalance StateMinerCreationDeposit
    StateMinerDeadlines StateMinerFaults StateMinerInfo StateMinerInitialPledgeCollateral
    StateMinerInitialPledgeForSector StateMinerPartitions StateMinerPower StateMinerPreCommitDepositForPower
    StateMinerProvingDeadline StateMinerRecoveries StateMinerSectorAllocated StateMinerSectorCount
    StateMinerSectors StateNetworkName StateNetworkVersion StateReadState StateSectorExpiration
    StateSectorGetInfo StateSectorPartition StateSectorPreCommitInfo StateVMCirculatingSupplyInternal
    StateVerifiedClientStatus StateVerifiedRegistryRootKey StateVerifierStatus SyncCheckBad SyncState
    SyncValidateTipset Version Web3ClientVersion
"""
PLAIN_READS: frozenset[str] = frozenset(_PLAIN_READS.split())

# Ethereum JSON-RPC names Lotus aliases onto FullNode methods (api/eth_aliases.go:28); only the
# refused targets matter here, the other aliases reach read methods.
ALIASES: dict[str, str] = {"eth_sendRawTransaction": "EthSendRawTransaction"}

_BY_NAME: dict[str, MethodRule] = {rule.name.lower(): rule for rule in RULES}
REFUSED: frozenset[str] = frozenset(rule.name for rule in RULES if rule.verdict is Verdict.REFUSED)
_REFUSED_LOWER: frozenset[str] = frozenset(name.lower() for name in REFUSED)
_ALIASES_LOWER: dict[str, str] = {alias.lower(): target for alias, target in ALIASES.items()}


def canonical(method: str) -> str:
    """The FullNode method name a wire name reaches: drop the `Filecoin.` namespace, resolve aliases."""
    name = method[len("filecoin.") :] if method[:9].lower() == "filecoin." else method
    return _ALIASES_LOWER.get(name.lower(), name)


def rule_for(method: str) -> MethodRule | None:
    """The table row for a wire method name, or None when the table does not name it."""
    return _BY_NAME.get(canonical(method).lower())


def is_refused(method: str) -> bool:
    """Whether a wire method name reaches a refused method (case-insensitive, so no spelling slips by)."""
    return canonical(method).lower() in _REFUSED_LOWER


def refused_names_in(text: str) -> list[str]:
    """Refused method names that appear anywhere in a text (for bodies that cannot be parsed)."""
    low = text.lower()
    return sorted(name for name in REFUSED if name.lower() in low) + sorted(
        alias for alias in ALIASES if alias.lower() in low
    )
