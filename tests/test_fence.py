import tomllib
from pathlib import Path

import pytest

from spdrill.errors import SafetyError
from spdrill.fence import ENV_OVERRIDE, verify_config_fence, verify_wallet_fence, write_winning_post_fence

PRODUCTION = """[API]
  ListenAddress = "/ip4/127.0.0.1/tcp/2345/http"

[Subsystems]
  EnableMining = true
  DisableWinningPoSt = false
  # a comment

[Proving]
  ParallelCheckLimit = 32
"""


def test_fence_written_into_existing_section(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text(PRODUCTION)
    write_winning_post_fence(f)
    doc = tomllib.loads(f.read_text())
    assert doc["Subsystems"] == {"EnableMining": True, "DisableWinningPoSt": True}
    assert doc["Proving"]["ParallelCheckLimit"] == 32
    assert verify_config_fence(f, {}).startswith("config: [Subsystems] DisableWinningPoSt = true")


@pytest.mark.parametrize("text", ["", "[API]\n  Timeout = \"30s\"\n", "[Subsystems]\n  #DisableWinningPoSt = false\n"])
def test_fence_written_when_absent(tmp_path: Path, text: str) -> None:
    f = tmp_path / "config.toml"
    f.write_text(text)
    write_winning_post_fence(f)
    assert tomllib.loads(f.read_text())["Subsystems"]["DisableWinningPoSt"] is True


def test_config_without_fence_refused(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text(PRODUCTION)
    with pytest.raises(SafetyError, match="DisableWinningPoSt = False, need true"):
        verify_config_fence(f, {})


def test_env_override_refused(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text(PRODUCTION)
    write_winning_post_fence(f)
    with pytest.raises(SafetyError, match=ENV_OVERRIDE):
        verify_config_fence(f, {ENV_OVERRIDE: "false"})


def test_wallet_with_worker_key_refused_naming_address_only() -> None:
    with pytest.raises(SafetyError) as exc:
        verify_wallet_fence(["f1other", "f3worker"], "f3owner", "f3worker", ["f1ctl"])
    assert "worker key" in str(exc.value) and "f3worker" in str(exc.value)


def test_wallet_without_miner_keys_passes() -> None:
    checked, size = verify_wallet_fence(["f1unrelated"], "f3owner", "f3worker", ["f1ctl"])
    assert checked == ("f3owner", "f3worker", "f1ctl") and size == 1


def test_wallet_fence_sees_a_testnet_key_as_the_same_key() -> None:
    # Calibnet/devnet Lotus prints t-addresses (build/buildconstants/params_calibnet.go:139,
    # params_2k.go:112 SetAddressNetwork(address.Testnet)); go-address reads f and t as one address.
    with pytest.raises(SafetyError, match=r"holds the worker key of the miner \(f3worker\)"):
        verify_wallet_fence(["t1other", "t3worker"], "f3owner", "f3worker", ["f1ctl"])
    with pytest.raises(SafetyError, match=r"holds the owner key of the miner \(t3owner\)"):
        verify_wallet_fence(["f3owner"], "t3owner", "t3worker", [])
