"""The shipped drill module spdrill.drills.test_post, re-exported so `pytest drills/` runs it from a checkout."""

from spdrill.drills.test_post import *  # noqa: F403
