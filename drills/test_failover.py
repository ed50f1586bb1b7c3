"""The shipped drill module spdrill.drills.test_failover, re-exported so `pytest drills/` runs it from a checkout."""

from spdrill.drills.test_failover import *  # noqa: F403
