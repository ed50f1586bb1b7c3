"""The shipped drill module spdrill.drills.test_chain, re-exported so `pytest drills/` runs it from a checkout."""

from spdrill.drills.test_chain import *  # noqa: F403
