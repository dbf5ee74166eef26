"""What every test shares: the environment builder and strategy as fixtures, hypothesis's settings, the lab tier.

- ``environment``: the builder of tests/environments.py (``environment("nutanix", cilium=False)``); the override
  rules are written there, once. ``platform`` runs a test once per registered platform, and ``base_environment``
  is that platform's base environment (a fresh copy per test). The hypothesis strategy,
  ``tests.environments.environments(platform)``, is imported where ``@given`` needs it (a decorator cannot take a
  fixture).
- Hypothesis runs without a per-example deadline: a deadline is a timed assertion, and examples that plan under
  the mock engine are slow by design. Each test sets its own ``max_examples``.
- The lab tier: a test that needs root, ``ip`` and ``nft`` (network namespaces, real packets, ``nft -c``) asks for
  the ``lab_host`` fixture, and carries the ``lab`` marker; collection stops if one does not. ``pytest -m "not lab"``
  is the fast tier, ``pytest -m lab`` the lab (docs/testing.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests import environments

settings.register_profile("eksa-firewall", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("eksa-firewall")

LAB_FIXTURE = "lab_host"


@pytest.fixture(scope="session")
def environment() -> Callable[..., environments.Environment]:
    """The environment builder: ``environment(platform, **overrides)`` (tests/environments.py)."""
    return environments.environment


@pytest.fixture(params=environments.PLATFORMS)
def platform(request: pytest.FixtureRequest) -> str:
    """Each registered platform in turn (components.platform)."""
    return request.param


@pytest.fixture
def base_environment(platform: str) -> environments.Environment:
    """The base environment of ``platform``: a fresh copy, the test's to edit."""
    return environments.environment(platform)


@pytest.fixture(scope="session")
def lab_host() -> None:
    """This machine can run the lab: root, ``ip`` and ``nft``. Fails with the reason (never skips) when it cannot."""
    from tests.baremetal.lab import LabError, require_lab

    try:
        require_lab()
    except LabError as exc:
        pytest.fail(str(exc), pytrace=False)


def unmarked_lab_tests(items: Iterable[Any]) -> list[str]:
    """The tests that use the lab (``lab_host``, directly or through another fixture) without the ``lab`` marker."""
    return [item.nodeid for item in items if LAB_FIXTURE in getattr(item, "fixturenames", ()) and item.get_closest_marker("lab") is None]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = unmarked_lab_tests(items)
    if unmarked:
        raise pytest.UsageError(
            "these tests need the lab (root, ip, nft) but are not marked `lab`, so `pytest -m 'not lab'` would run them: "
            + ", ".join(unmarked)
            + ". Add @pytest.mark.lab (or pytestmark = pytest.mark.lab in the module)."
        )
