"""The pack against what our components really register: every example stack passes; broken copies do not."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policy.policies import NUTANIX_POLICY_V2, POLICIES, nsx_policy_has_final_rule, nutanix_policy_enforced

from ..diff.stack_plans import EXAMPLE_STACKS, plan_file, stack_file
from .test_policies import violations

_PLANS: dict[str, dict[str, Any]] = {}


def plan(stack: str) -> dict[str, Any]:
    if stack not in _PLANS:
        _PLANS[stack] = plan_file(stack_file(stack))
    return _PLANS[stack]


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_every_example_stack_passes_the_pack(stack: str) -> None:
    found = [
        (r["type"], r["name"], m)
        for r in plan(stack)["resources"]
        for policy in POLICIES
        for m in violations(policy, r["type"], r["inputs"], proxied=True)
    ]
    assert found == []


def test_the_vsphere_policies_are_checked_and_fail_without_their_final_rule() -> None:
    policies = [r for r in plan("vsphere-example")["resources"] if r["type"] == "pulumi-python:dynamic/nsx:SecurityPolicy"]
    assert policies
    for r in policies:
        broken = copy.deepcopy(r["inputs"])
        broken["body"]["rules"] = [x for x in broken["body"]["rules"] if x["id"] != "other-inbound"]
        assert violations(nsx_policy_has_final_rule, r["type"], broken, proxied=True), r["name"]


def test_the_nutanix_policies_are_checked_and_fail_when_saved() -> None:
    policies = [r for r in plan("nutanix-example")["resources"] if r["type"] == NUTANIX_POLICY_V2]
    assert policies
    for r in policies:
        assert violations(nutanix_policy_enforced, r["type"], {**r["inputs"], "state": "SAVE"}, proxied=True), r["name"]
