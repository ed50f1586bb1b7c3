"""The shipped drill module spdrill.drills.test_host, re-exported so `pytest drills/` runs it from a checkout."""

from spdrill.drills.test_host import *  # noqa: F403
