"""Wires the drill fixtures (fixtures/) into pytest; logic lives in src/spdrill, checks in drills/."""

pytest_plugins = ["fixtures.plan", "fixtures.standby"]
