"""The shipped drill module spdrill.drills.test_reconcile, re-exported so `pytest drills/` runs it from a checkout."""

from spdrill.drills.test_reconcile import *  # noqa: F403
from spdrill.drills.test_reconcile import __test__  # noqa: F401,E402
