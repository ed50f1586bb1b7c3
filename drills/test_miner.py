"""The shipped drill module spdrill.drills.test_miner, re-exported so `pytest drills/` runs it from a checkout."""

from spdrill.drills.test_miner import *  # noqa: F403
