"""Wires the drill fixtures (fixtures/) into pytest; logic lives in src/spdrill, checks in drills/."""

import sys
from pathlib import Path

# Import mode is importlib, so this folder is not on sys.path by itself; put it first so `fixtures` is ours
# and never the PyPI package of the same name.
_ROOT = str(Path(__file__).resolve().parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

pytest_plugins = ["fixtures.plan", "fixtures.standby"]
