"""The shipped drill module spdrill.drills.test_retention, re-exported so `pytest drills/` runs it from a checkout."""

from spdrill.drills.test_retention import *  # noqa: F403
