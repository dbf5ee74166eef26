"""Stable identities: a change to the environment adds resources and replaces none.

Region mode: every rule is its own resource, named from (group, direction, peer, protocol, ports), so one
more client range is only added resources; nothing already there changes at all. Snow mode: rules are
inline, so one more client range changes the ingress of existing groups *in place* (an update); what
would replace a group (its name, its description, its VPC) never changes.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.engine import ProgramRun
from tests.environments import AWS_REGION, AWS_SECRETS, JENKINS, PROD_LOAD_BALANCER, edit_cluster, environment, merge
from tests.helpers import plan_config

SG = "aws:ec2/securityGroup:SecurityGroup"
# pulumi-aws properties whose change replaces a security group (EC2 has no update call for them)
SG_REPLACE_KEYS = ("name", "namePrefix", "description", "vpcId")


def _snow(**overrides: Any) -> dict[str, Any]:
    """The snow environment, with an API load balancer in front of prod's control plane (its rules must be stable too)."""
    return edit_cluster(environment("snow", **overrides), "prod", **PROD_LOAD_BALANCER)


def _run(cfg: dict[str, Any]) -> ProgramRun:
    return plan_config(cfg, secrets=AWS_SECRETS).run


def _by_urn(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {r.urn: dict(r.inputs) for r in run.resources}


def _more_api_clients(cfg: dict[str, Any]) -> dict[str, Any]:
    return merge(cfg, {"clients": {"api": ["172.16.0.0/24", *cfg["clients"]["api"]]}})  # first in the list: positions shift


def _jenkins(cfg: dict[str, Any]) -> dict[str, Any]:
    return merge(cfg, {"managementTools": JENKINS})


def _more_ssh_clients(cfg: dict[str, Any]) -> dict[str, Any]:
    return merge(cfg, {"clients": {"ssh": ["10.0.8.0/24", *cfg["clients"]["ssh"]]}})


CHANGES = {"one-more-api-range": _more_api_clients, "jenkins-enabled": _jenkins, "one-more-ssh-range": _more_ssh_clients}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_region_change_only_adds_resources(change: str) -> None:
    # region mode creates the admin-machine group, and a Jenkins group as soon as Jenkins is enabled
    base_cfg = _snow(aws=AWS_REGION) if change == "jenkins-enabled" else _jenkins(_snow(aws=AWS_REGION))
    before = _by_urn(_run(base_cfg))
    after = _by_urn(_run(CHANGES[change](base_cfg)))
    assert set(before) <= set(after), f"removed or renamed: {sorted(set(before) - set(after))}"
    assert set(after) - set(before), "the change must add something"
    changed = sorted(u for u in before if before[u] != after[u])
    assert not changed, f"existing resources changed: {changed}"


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_snow_change_replaces_no_resource(change: str) -> None:
    base = _run(_snow())
    after_run = _run(CHANGES[change](_snow()))
    before, after = _by_urn(base), _by_urn(after_run)
    assert set(before) <= set(after), f"removed or renamed: {sorted(set(before) - set(after))}"
    for urn, inputs in before.items():
        for key in SG_REPLACE_KEYS:
            assert inputs.get(key) == after[urn].get(key), f"{urn}: {key} changed (would replace the group)"
    updated = [u for u in before if before[u] != after[u]]
    assert updated, "an inline-rule change is an update of existing groups"
    assert all(":SecurityGroup::" in u for u in updated), "only groups are updated, in place; providers never change"


def test_snow_added_client_range_changes_only_the_affected_rules() -> None:
    before = {r.name: r.inputs for r in _run(_snow()).of_type(SG)}
    after = {r.name: r.inputs for r in _run(_more_api_clients(_snow())).of_type(SG)}
    for name, inputs in before.items():
        assert inputs["egress"] == after[name]["egress"], name  # client ranges only ever reach ingress
        added = [b for b in after[name]["ingress"] if b not in inputs["ingress"]]
        assert all("172.16.0.0/24" in b["cidrBlocks"] for b in added), name


@pytest.mark.parametrize("mode", ["snow", "region"])
def test_order_of_lists_never_matters(mode: str) -> None:
    cfg = _snow() if mode == "snow" else _snow(aws=AWS_REGION)
    shuffled = _snow() if mode == "snow" else _snow(aws=AWS_REGION)
    shuffled["clusters"] = list(reversed(shuffled["clusters"]))
    shuffled["clients"] = {k: list(reversed([*v, "172.16.0.0/24"])) for k, v in shuffled["clients"].items()}
    cfg["clients"] = {k: [*v, "172.16.0.0/24"] for k, v in cfg["clients"].items()}
    shuffled["endpoints"]["snowDevices"] = list(reversed(shuffled["endpoints"]["snowDevices"]))
    a, b = _by_urn(_run(cfg)), _by_urn(_run(shuffled))
    assert a == b
