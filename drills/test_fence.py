"""The shipped drill module spdrill.drills.test_fence, re-exported so `pytest drills/` runs it from a checkout."""

from spdrill.drills.test_fence import *  # noqa: F403
