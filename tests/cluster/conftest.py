"""Sweeps on a Ray cluster of several nodes started on this machine (``loopback.py``).

Tests marked ``faults`` lose a worker node, the driver or the head on purpose, and take minutes:
the default run leaves them out (deselected), ``make test-cluster`` and CI run them.
"""

import pytest
from loopback import LoopbackCluster


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "faults: a sweep on the loopback cluster losing a node, its driver or the head"
    )


def pytest_collection_modifyitems(config, items):
    if "faults" in (config.getoption("markexpr") or ""):
        return
    keep = [item for item in items if "faults" not in item.keywords]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


@pytest.fixture(scope="package")
def cluster():
    """A head and two worker nodes of one CPU each, token authentication on."""
    started = LoopbackCluster(workers=2)
    yield started
    started.stop()
