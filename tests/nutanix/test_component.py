"""The component under Pulumi's mock engine: what it registers, its outputs, and verify on many environments."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings

from components.engine import Registration, run_program
from components.errors import ConfigError
from components.stackfile import load_project
from components.verify import verify
from tests.environments import environment, environments
from tests.helpers import PROJECT, PROJECT_DIR, Planned, plan_config, plan_stack

POLICY = "nutanix:index/networkSecurityPolicyV2:NetworkSecurityPolicyV2"
CATEGORY = "nutanix:index/categoryV2:CategoryV2"
ADDRESS_GROUP = "nutanix:index/addressGroupsV2:AddressGroupsV2"
SOURCE_KEYS = ("srcCategoryReferences", "srcAddressGroupReferences", "srcSubnets", "srcAllowSpec")


def policies(p: Planned) -> dict[str, Mapping[str, Any]]:
    return {r.inputs["name"]: r.inputs for r in p.run.of_type(POLICY)}


def rule_sources(rule: Mapping[str, Any]) -> list[Any]:
    """Every source a registered rule names, as the provider would see them (all list items, not only [0])."""
    found: list[Any] = []
    for spec in rule.get("specs", []):
        for app in spec.get("applicationRuleSpecs", []):
            for key in SOURCE_KEYS:
                value = app.get(key)
                if isinstance(value, list):
                    found.extend(value)
                elif value is not None:
                    found.append(value)
    return found


def assert_one_source_per_rule(resources: Sequence[Registration]) -> None:
    for pol in (r for r in resources if r.type == POLICY):
        for rule in pol.inputs["rules"]:
            specs = rule["specs"]
            assert len(specs) == 1, rule
            apps = specs[0].get("applicationRuleSpecs", [])
            intras = specs[0].get("intraEntityGroupRuleSpecs", [])
            assert len(apps) + len(intras) == 1, rule
            if rule["type"] == "INTRA_GROUP":
                assert rule_sources(rule) == []
            elif apps[0].get("destAllowSpec") == "ALL":
                assert rule_sources(rule) == [], "the outbound rule names no source"
            else:
                assert len(rule_sources(rule)) == 1, rule
                assert len(apps[0]["securedGroupCategoryReferences"]) == 1


@pytest.fixture(scope="module")
def example() -> Planned:
    return plan_stack("nutanix-example")


def test_example_stack_allows_exactly_the_required_flows(example: Planned) -> None:
    report = verify(example.topology, example.flows, example.run.resources)
    assert report.ok, report.to_json()
    assert len(report.required) > 50


def test_example_stack_objects(example: Planned) -> None:
    types = [r.type for r in example.run.resources]
    assert types.count(CATEGORY) == 5  # mgmt cp/worker, prod cp/etcd/worker
    assert types.count(POLICY) == 5  # one per cluster role
    assert types.count("pulumi:providers:nutanix") == 1
    assert_one_source_per_rule(example.run.resources)
    for pol in policies(example).values():
        assert pol["state"] == "MONITOR"
        assert pol["type"] == "APPLICATION"
        assert pol["isIpv6TrafficAllowed"] is False
        # Every rule's secured group is the policy's own category.
        secured = {
            ref
            for rule in pol["rules"]
            for spec in rule["specs"]
            for part in (*spec.get("applicationRuleSpecs", []), *spec.get("intraEntityGroupRuleSpecs", []))
            for ref in part["securedGroupCategoryReferences"]
        }
        assert len(secured) == 1


def test_additional_categories_output_is_ready_to_paste(example: Planned) -> None:
    out = example.run.outputs["additionalCategories"]
    assert out == {
        "mgmt": {
            "control-plane": [{"key": "EksaFirewallRole", "value": "mgmt-control-plane"}],
            "worker": [{"key": "EksaFirewallRole", "value": "mgmt-worker"}],
        },
        "prod": {
            "control-plane": [{"key": "EksaFirewallRole", "value": "prod-control-plane"}],
            "etcd": [{"key": "EksaFirewallRole", "value": "prod-etcd"}],
            "worker": [{"key": "EksaFirewallRole", "value": "prod-worker"}],
        },
    }
    # ... and each entry is exactly a category the stack creates.
    created = {(r.inputs["key"], r.inputs["value"]) for r in example.run.of_type(CATEGORY)}
    assert {(e["key"], e["value"]) for roles in out.values() for entries in roles.values() for e in entries} == created
    assert example.run.outputs["flowPolicies"]["prod"]["etcd"]["name"] == "eksa-prod-etcd"


def test_monitor_by_default_enforce_only_when_configured() -> None:
    assert {p["state"] for p in policies(plan_config(environment("nutanix"))).values()} == {"MONITOR"}
    assert {p["state"] for p in policies(plan_config(environment("nutanix", nutanix={"state": "ENFORCE"}))).values()} == {"ENFORCE"}
    mixed = policies(plan_config(environment("nutanix", nutanix={"clusterStates": {"prod": "ENFORCE"}})))
    assert {n: p["state"] for n, p in mixed.items()} == {
        "eksa-mgmt-control-plane": "MONITOR",
        "eksa-mgmt-worker": "MONITOR",
        "eksa-prod-control-plane": "ENFORCE",
        "eksa-prod-etcd": "ENFORCE",
        "eksa-prod-worker": "ENFORCE",
    }


@pytest.mark.parametrize("client", ["api", "ssh", "nodePort"])
def test_adding_a_client_range_moves_no_rule(client: str) -> None:
    before = policies(plan_config(environment("nutanix")))
    cfg = environment("nutanix")
    cfg["clients"][client].append("10.60.0.0/16")
    after_run = plan_config(cfg)
    after = policies(after_run)
    assert after == before  # every rule of every policy, at the same position, unchanged
    report = verify(after_run.topology, after_run.flows, after_run.run.resources)
    assert report.ok, report.to_json()
    groups = {r.inputs["name"]: r.inputs["ipv4Addresses"] for r in after_run.run.of_type(ADDRESS_GROUP)}
    peer = {"api": "api-clients", "ssh": "ssh-clients", "nodePort": "nodeport-clients"}[client]
    for cluster in ("mgmt", "prod"):
        assert {"value": "10.60.0.0", "prefixLength": 16} in groups[f"eksa-{cluster}-{peer}"]


def test_a_new_client_peer_lands_after_every_existing_rule() -> None:
    cfg = environment("nutanix")
    del cfg["clients"]["nodePort"]
    before = policies(plan_config(cfg))
    after = policies(plan_config(environment("nutanix")))
    for name, pol in before.items():
        assert after[name]["rules"][: len(pol["rules"])] == pol["rules"], name
    assert len(after["eksa-mgmt-worker"]["rules"]) == len(before["eksa-mgmt-worker"]["rules"]) + 1


@settings(max_examples=40)
@given(environments("nutanix"))
def test_generated_environments_verify(cfg: dict[str, Any]) -> None:
    planned = plan_config(cfg)
    report = verify(planned.topology, planned.flows, planned.run.resources)
    assert report.ok, report.to_json()
    assert_one_source_per_rule(planned.run.resources)


def test_bad_settings_register_nothing() -> None:
    project = load_project(PROJECT_DIR)
    values = {**project.defaults, **environment("nutanix", nutanix={"state": "SAVE"})}
    recorded: list[Registration] = []
    with pytest.raises(ConfigError, match=r"nutanix\.state"):
        run_program(
            project.program,
            project=PROJECT,
            stack="test",
            config={f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()},
            recorded=recorded,
        )
    assert recorded == []


def test_the_prism_password_stays_secret() -> None:
    project = load_project(PROJECT_DIR)
    values = {**project.defaults, **environment("nutanix", nutanix={"provider": {"username": "eksa-firewall"}})}
    config = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    config |= {f"{PROJECT}:prismPassword": "s3cret-Pa55"}
    run = run_program(project.program, project=PROJECT, stack="test", config=config, secret_keys=[f"{PROJECT}:prismPassword"])
    (provider,) = run.of_type("pulumi:providers:nutanix")
    assert provider.inputs["password"] == "[secret]"
    assert (provider.inputs["endpoint"], provider.inputs["port"], provider.inputs["username"]) == ("10.0.0.20", "9440", "eksa-firewall")
    dump = json.dumps([r.to_json() for r in run.resources]) + json.dumps(run.outputs)
    assert "s3cret-Pa55" not in dump
    # Every other resource uses this provider.
    assert {r.provider.split("::")[-2] if r.provider else None for r in run.resources if r.type.startswith("nutanix:")} == {
        "eksa-prism-central"
    }
