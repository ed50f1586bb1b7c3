"""`pytest drills/` from the root: nothing to wire here, on purpose.

The drills live in the package (spdrill.drills; drills/ re-exports them) and their fixtures and options come
from spdrill's pytest plugin (`spdrill.pytest_plugin`, the `pytest11` entry point `spdrill`), which installing
spdrill registers. Loading the fixtures here as well would register them twice. With
PYTEST_DISABLE_PLUGIN_AUTOLOAD=1, pass `-p spdrill`.
"""
