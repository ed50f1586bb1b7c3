"""The shipped drill module spdrill.drills.test_objectives, re-exported so `pytest drills/` runs it from a checkout."""

from spdrill.drills.test_objectives import *  # noqa: F403
