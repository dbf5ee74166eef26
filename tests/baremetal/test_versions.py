"""The EKS-A version option changes exactly the bare-metal rows it should, in the rendered rulesets."""

from __future__ import annotations

import re

import pytest

from tests.baremetal.common import example_config, plan, registered_rulesets

# What the machines may open on the admin machine (and the Tinkerbell VIP), by EKS-A release.
EXPECTED_TCP = {
    "v0.21": "{ 80, 42113, 50061 }",  # Hegel; no Smee 7171, no Tootles 7172
    "v0.22": "{ 80, 7171, 42113, 50061 }",  # Smee iPXE/HTTP from v0.22
    "v0.24": "{ 80, 7171, 42113, 50061 }",
    "v0.25": "{ 80, 7171-7172, 42113 }",  # Tootles replaces Hegel from v0.25
    "latest": "{ 80, 7171-7172, 42113 }",
}


def _rendered(version: str) -> dict[str, str]:
    cfg = example_config()
    cfg["eksaVersion"] = version
    return registered_rulesets(plan(cfg))


@pytest.mark.parametrize("version", sorted(EXPECTED_TCP))
def test_tinkerbell_ports_by_version(version: str) -> None:
    r = _rendered(version)
    admin = re.findall(r"ip saddr @worker_at_mgmt_v4 ip daddr @admin_machine_v4 tcp dport (\{[^}]*\}|\S+) accept", r["admin-machine"])
    vip = re.findall(r"ip saddr @worker_at_mgmt_v4 ip daddr @tinkerbell_vip_v4 tcp dport (\{[^}]*\}|\S+) accept", r["mgmt/control-plane"])
    assert admin == vip == [EXPECTED_TCP[version]]


def test_only_the_bare_metal_rows_change() -> None:
    """Between v0.21 and latest, the only differing lines are the Tinkerbell TCP rules (and the version header)."""
    old, new = _rendered("v0.21"), _rendered("latest")
    assert old.keys() == new.keys()
    for key in old:
        a, b = set(old[key].splitlines()), set(new[key].splitlines())
        changed = {line.strip() for line in a ^ b}
        for line in changed:
            assert line.startswith("# eksa-firewall:") or ("tcp dport" in line and ("50061" in line or "7171" in line)), (key, line)
    # The worker's ruleset receives no Tinkerbell traffic at all: identical apart from the header.
    assert {line for line in old["mgmt/worker"].splitlines() if not line.startswith("#")} == {
        line for line in new["mgmt/worker"].splitlines() if not line.startswith("#")
    }
