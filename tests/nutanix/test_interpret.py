"""The interpreter reads Flow as Flow (and the provider) reads it: each test edits the registered objects of
the example stack and checks that verify sees exactly what the edit changes."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from components.engine import Registration
from components.verify import Report, verify
from tests.environments import cluster, environment
from tests.helpers import Planned, plan_config, plan_stack

POLICY = "nutanix:index/networkSecurityPolicyV2:NetworkSecurityPolicyV2"
SERVICE_GROUP = "nutanix:index/serviceGroupsV2:ServiceGroupsV2"
CATEGORY = "nutanix:index/categoryV2:CategoryV2"

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def example() -> Planned:
    return plan_stack("nutanix-example")


def edited(p: Planned, type_: str, name: str, edit: Edit) -> Report:
    resources: list[Registration] = []
    hits = 0
    for r in p.run.resources:
        if r.type == type_ and r.inputs.get("name", r.inputs.get("value")) == name:
            inputs = copy.deepcopy(dict(r.inputs))
            edit(inputs)
            r = dataclasses.replace(r, inputs=inputs)
            hits += 1
        resources.append(r)
    assert hits == 1, f"no single {type_} named {name}"
    return verify(p.topology, p.flows, resources)


def rule_from(inputs: dict[str, Any], description: str) -> dict[str, Any]:
    return next(r for r in inputs["rules"] if r["description"].startswith(description))


def app(rule: dict[str, Any]) -> dict[str, Any]:
    return rule["specs"][0]["applicationRuleSpecs"][0]


def ids(p: Planned, type_: str, name: str) -> str:
    r = next(r for r in p.run.resources if r.type == type_ and r.inputs.get("name") == name)
    assert r.id is not None
    return r.id


def test_unedited_example_is_ok(example: Planned) -> None:
    assert verify(example.topology, example.flows, example.run.resources).ok


def test_a_dropped_rule_is_missing(example: Planned) -> None:
    def drop(inputs: dict[str, Any]) -> None:
        inputs["rules"].remove(rule_from(inputs, "From ssh-clients"))

    report = edited(example, POLICY, "eksa-prod-etcd", drop)
    assert {(str(a.source), str(a.destination), str(a.ports)) for a in report.missing} == {("10.20.5.0/24", "10.11.3.0/28", "22")}
    assert not report.excess


def test_only_the_first_spec_the_first_application_spec_and_the_first_subnet_count(example: Planned) -> None:
    ssh_group = ids(example, SERVICE_GROUP, "eksa-prod-cp-ssh-tcp-22")

    def extras(inputs: dict[str, Any]) -> None:
        rule = rule_from(inputs, "From ssh-clients")
        extra = {"securedGroupCategoryReferences": app(rule)["securedGroupCategoryReferences"], "srcAllowSpec": "ALL",
                 "serviceGroupReferences": [ssh_group]}  # fmt: skip
        rule["specs"][0]["applicationRuleSpecs"].append(extra)  # dropped by the provider
        rule["specs"].append({"applicationRuleSpecs": [extra]})  # dropped too
        subnet_rule = copy.deepcopy(rule)
        subnet_rule["specs"] = [rule["specs"][0]]
        a = app(subnet_rule)
        del a["srcAddressGroupReferences"]
        a["srcSubnets"] = [{"value": "10.20.5.0", "prefixLength": 24}, {"value": "0.0.0.0", "prefixLength": 0}]
        subnet_rule["specs"][0]["applicationRuleSpecs"] = [a]
        inputs["rules"].append(subnet_rule)  # same as the address group; the second subnet is dropped

    report = edited(example, POLICY, "eksa-prod-etcd", extras)
    assert report.ok, report.to_json()


def test_a_second_subnet_first_would_count(example: Planned) -> None:
    ssh_group = ids(example, SERVICE_GROUP, "eksa-prod-cp-ssh-tcp-22")

    def first(inputs: dict[str, Any]) -> None:
        rule = copy.deepcopy(rule_from(inputs, "From ssh-clients"))
        a = app(rule)
        del a["srcAddressGroupReferences"]
        a["srcSubnets"] = [{"value": "192.0.2.0", "prefixLength": 24}, {"value": "10.20.5.0", "prefixLength": 24}]
        a["serviceGroupReferences"] = [ssh_group]
        inputs["rules"].append(rule)

    report = edited(example, POLICY, "eksa-prod-etcd", first)
    assert {str(a.source) for a in report.excess} == {"192.0.2.0/24"}


def test_a_wider_service_group_is_excess(example: Planned) -> None:
    def widen(inputs: dict[str, Any]) -> None:
        inputs["tcpServices"] = [{"startPort": 22, "endPort": 23}]

    report = edited(example, SERVICE_GROUP, "eksa-prod-cp-ssh-tcp-22", widen)
    assert report.excess and {str(a.ports) for a in report.excess} == {"23"}
    assert not report.missing


def test_intra_group_without_services_allows_everything_within(example: Planned) -> None:
    def allow_all(inputs: dict[str, Any]) -> None:
        intra = rule_from(inputs, "Within prod etcd")["specs"][0]["intraEntityGroupRuleSpecs"][0]
        del intra["securedGroupServiceReferences"]

    report = edited(example, POLICY, "eksa-prod-etcd", allow_all)
    assert {(str(a.source), str(a.destination)) for a in report.excess} == {("10.11.3.0/28", "10.11.3.0/28")}


def test_intra_group_deny_allows_nothing_within(example: Planned) -> None:
    def deny(inputs: dict[str, Any]) -> None:
        rule_from(inputs, "Within prod etcd")["specs"][0]["intraEntityGroupRuleSpecs"][0]["securedGroupAction"] = "DENY"

    report = edited(example, POLICY, "eksa-prod-etcd", deny)
    assert {(str(a.source), str(a.destination), a.protocol) for a in report.missing} == {("10.11.3.0/28", "10.11.3.0/28", "tcp")}


def test_src_allow_all_is_excess(example: Planned) -> None:
    def everyone(inputs: dict[str, Any]) -> None:
        a = app(rule_from(inputs, "From ssh-clients"))
        del a["srcAddressGroupReferences"]
        a["srcAllowSpec"] = "ALL"

    report = edited(example, POLICY, "eksa-prod-etcd", everyone)
    assert {str(a.source) for a in report.excess} == {"0.0.0.0/0"}


def test_a_category_no_role_carries_has_no_vms(example: Planned) -> None:
    def rename(inputs: dict[str, Any]) -> None:
        inputs["value"] = "someone-else"

    report = edited(example, CATEGORY, "prod-etcd", rename)
    assert report.missing and {str(a.destination) for a in report.missing} == {"10.11.3.0/28"}
    assert {str(a.source) for a in report.excess} <= {"10.11.3.0/28"}  # etcd's own traffic to the others is gone too


def test_outbound_open_by_default_and_closed_by_an_outbound_rule(example: Planned) -> None:
    def no_outbound_rule(inputs: dict[str, Any]) -> None:
        inputs["rules"].remove(rule_from(inputs, "Outbound"))

    assert edited(example, POLICY, "eksa-prod-etcd", no_outbound_rule).ok

    def restricted(inputs: dict[str, Any]) -> None:
        a = app(rule_from(inputs, "Outbound"))
        del a["destAllowSpec"]
        a["destCategoryReferences"] = ["nowhere"]

    report = edited(example, POLICY, "eksa-prod-etcd", restricted)
    assert report.missing and {str(a.source) for a in report.missing} == {"10.11.3.0/28"}
    assert not report.excess


def test_ipv6_allowed_flag_lets_all_ipv6_in() -> None:
    cfg = environment("nutanix")
    cluster(cfg, "mgmt")["controlPlane"]["addresses"].append("fd00:1::/64")
    p = plan_config(cfg)
    assert verify(p.topology, p.flows, p.run.resources).ok

    def allow_v6(inputs: dict[str, Any]) -> None:
        inputs["isIpv6TrafficAllowed"] = True

    report = edited(p, POLICY, "eksa-mgmt-control-plane", allow_v6)
    assert {str(a.source) for a in report.excess} == {"::/0"}
