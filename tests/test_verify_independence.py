"""``verify`` does not share the planners' scoping: a scoping bug planted in a planner makes it fail.

Before the redesign, each interpreter took the required side from its planner (``aws.settings.duties``,
``vsphere.planner.enforced_flows``, ...), so such a bug cancelled out and verify still passed. Now the
required side comes from the flows and each platform's declarative ``visibility.py``. Each case below plants
a bug in the planner only and runs the real program under the mock engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.endpoints import NODE_ROLES, TINKERBELL_VIP
from components.verify import verify
from tests.helpers import plan_stack


def _forget_stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS: the admin machine inside clients.ssh no longer gets the egress rule that lets it SSH out."""
    from components.aws import scope

    monkeypatch.setattr(scope, "_stand_ins", lambda *args: [])


def _forget_the_vip(monkeypatch: pytest.MonkeyPatch) -> None:
    """vSphere: the policies stop admitting traffic to the control-plane VIP."""
    from components.vsphere import planner

    monkeypatch.setattr(planner, "ENFORCED_DESTINATIONS", NODE_ROLES)


def _forget_etcd(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nutanix: the flows into etcd get no rule."""
    from components.nutanix import planner

    original = planner.enforced
    monkeypatch.setattr(planner, "enforced", lambda flows: tuple(f for f in original(flows) if f.destination != "etcd"))


def _forget_the_tinkerbell_vip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bare metal: the management cluster's control plane stops admitting traffic to the Tinkerbell VIP."""
    from components.baremetal import planner

    original = planner._destination_host
    monkeypatch.setattr(planner, "_destination_host", lambda t, c, dst: None if dst == TINKERBELL_VIP else original(t, c, dst))


CASES: dict[str, tuple[str, Callable[[pytest.MonkeyPatch], None]]] = {
    "aws stand-ins": ("aws-region-example", _forget_stand_ins),
    "vsphere vip": ("vsphere-example", _forget_the_vip),
    "nutanix etcd": ("nutanix-example", _forget_etcd),
    "baremetal tinkerbell vip": ("baremetal-example", _forget_the_tinkerbell_vip),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_scoping_bug_in_the_planner_fails_verify(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stack, plant = CASES[case]
    healthy = plan_stack(stack)
    assert verify(healthy.topology, healthy.flows, healthy.run.resources).ok  # the control: the same stack, no bug

    plant(monkeypatch)
    broken = plan_stack(stack)
    report = verify(broken.topology, broken.flows, broken.run.resources)
    assert not report.ok
    assert report.missing, report.to_json()


def test_interpreters_import_neither_planners_nor_pulumi() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import components.verify\n"
        "from components.platform import platforms\n"
        "for p in platforms().values():\n"
        "    p.interpreter(); p.module('visibility')\n"
        "bad = sorted(m for m in sys.modules if m == 'pulumi' or m.startswith('pulumi.') or m.endswith('.planner') or m.endswith('.scope'))\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded: Any = result.stdout.strip().splitlines()[-1]
    assert loaded == "[]", loaded
