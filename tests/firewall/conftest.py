"""Fixtures for the chain firewall tests: the fake daemon started, and a firewall in front of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spdrill.firewall import ChainFirewall
from tests.firewall.fake_daemon import UPSTREAM_TOKEN, WORKER, FakeDaemon


@pytest.fixture
def daemon() -> Iterator[FakeDaemon]:
    """A started fake Lotus daemon."""
    d = FakeDaemon()
    d.start()
    yield d
    d.stop()


@pytest.fixture
def firewall(daemon: FakeDaemon) -> Iterator[ChainFirewall]:
    """A started firewall in front of the fake daemon, vouching for WORKER."""
    fw = ChainFirewall(upstream_url=daemon.url, upstream_token=UPSTREAM_TOKEN, worker_keys={WORKER})
    fw.start()
    yield fw
    fw.stop()
