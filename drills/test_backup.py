"""The shipped drill module spdrill.drills.test_backup, re-exported so `pytest drills/` runs it from a checkout."""

from spdrill.drills.test_backup import *  # noqa: F403
