"""Each policy of the pack, called through its ``validate`` with ResourceValidationArgs (engine camelCase props),
on resources that pass and resources that fail. Props go through pulumi-policy's own proxy too, as the
analyzer hands them over (lists arrive as a Sequence proxy, not a list)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy
from pulumi_policy.proxy import unknown_checking_proxy

from policy.policies import (
    AWS_DEFAULT_SECURITY_GROUP,
    AWS_INGRESS_RULE,
    AWS_SECURITY_GROUP,
    AWS_SECURITY_GROUP_RULE,
    NSXT_SECURITY_POLICY,
    NUTANIX_POLICY_V2,
    NUTANIX_RULE_V3,
    POLICIES,
    no_sensitive_ports_from_internet,
    no_ssh_from_internet,
    nsx_policy_has_final_rule,
    nutanix_policy_enforced,
)

NSX_POLICY = "pulumi-python:dynamic/nsx:SecurityPolicy"


def violations(policy: ResourceValidationPolicy, type_: str, props: Mapping[str, Any], *, config: Mapping[str, Any] | None = None,
               proxied: bool = False) -> list[str]:  # fmt: skip
    found: list[str] = []
    opts = PolicyResourceOptions(
        protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
    )  # fmt: skip
    args = ResourceValidationArgs(
        resource_type=type_,
        props=unknown_checking_proxy(dict(props)) if proxied else props,
        urn=f"urn:pulumi:s::p::{type_}::r",
        name="r",
        opts=opts,
        provider=None,
        config=config,
    )
    result = policy.validate(args, lambda message, urn=None: found.append(message))
    assert result is None  # synchronous
    return found


@pytest.fixture(params=[False, True], ids=["plain", "analyzer-proxy"])
def proxied(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_the_pack_has_each_policy_once_and_all_are_mandatory() -> None:
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names)) == 4
    assert all(str(p.enforcement_level) == "EnforcementLevel.MANDATORY" for p in POLICIES)


# --- sensitive ports ---------------------------------------------------------------------------------

SENSITIVE_FAIL: list[tuple[str, str, dict[str, Any]]] = [
    ("sg inline etcd", AWS_SECURITY_GROUP,
     {"ingress": [{"protocol": "tcp", "fromPort": 2379, "toPort": 2380, "cidrBlocks": ["0.0.0.0/0"]}]}),
    ("sg inline all traffic ::/0", AWS_SECURITY_GROUP,
     {"ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks": ["::/0"]}]}),
    ("default sg kubelet", AWS_DEFAULT_SECURITY_GROUP,
     {"ingress": [{"protocol": "6", "fromPort": 10250, "toPort": 10250, "cidrBlocks": ["0.0.0.0/0"]}]}),
    ("sg rule scheduler in a wide range", AWS_SECURITY_GROUP_RULE,
     {"type": "ingress", "protocol": "tcp", "fromPort": 10000, "toPort": 11000, "cidrBlocks": ["10.0.0.0/8", "0.0.0.0/0"]}),
    ("vpc ingress controller-manager", AWS_INGRESS_RULE,
     {"ipProtocol": "tcp", "fromPort": 10257, "toPort": 10257, "cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg-1"}),
    ("vpc ingress all protocols v6", AWS_INGRESS_RULE, {"ipProtocol": "-1", "cidrIpv6": "::/0", "securityGroupId": "sg-1"}),
    ("vpc ingress 0.0.0.0/0 written oddly", AWS_INGRESS_RULE,
     {"ipProtocol": "tcp", "fromPort": 10259, "toPort": 10259, "cidrIpv4": "0.0.0.0/0 ", "securityGroupId": "sg-1"}),
    ("nutanix v2 src subnet", NUTANIX_POLICY_V2, {"state": "ENFORCE", "rules": [{"type": "APPLICATION", "specs": [{"applicationRuleSpecs": [
        {"securedGroupCategoryReferences": ["c"], "srcSubnets": [{"value": "0.0.0.0", "prefixLength": 0}],
         "tcpServices": [{"startPort": 2379, "endPort": 2380}]}]}]}]}),
    ("nutanix v2 allow all sources, all protocols", NUTANIX_POLICY_V2, {"state": "ENFORCE", "rules": [{"type": "APPLICATION", "specs": [
        {"applicationRuleSpecs": [{"securedGroupCategoryReferences": ["c"], "srcAllowSpec": "ALL", "isAllProtocolAllowed": True}]}]}]}),
    ("nutanix v3 inbound all", NUTANIX_RULE_V3, {"appRuleInboundAllowLists": [
        {"peerSpecificationType": "ALL", "protocol": "TCP", "tcpPortRangeLists": [{"startPort": 10250, "endPort": 10250}]}]}),
    ("nutanix v3 inbound 0.0.0.0/0", NUTANIX_RULE_V3, {"appRuleInboundAllowLists": [
        {"peerSpecificationType": "IP_SUBNET", "ipSubnet": "0.0.0.0", "ipSubnetPrefixLength": "0", "protocol": "TCP",
         "tcpPortRangeLists": [{"startPort": 2379, "endPort": 2379}]}]}),
    ("nsx rule ANY on ANY before the final rule", NSX_POLICY, {"body": {"resource_type": "SecurityPolicy", "rules": [
        {"id": "oops", "sequence_number": 10, "source_groups": ["ANY"], "destination_groups": ["/g/cp"], "services": ["ANY"], "action": "ALLOW"},
        {"id": "other-inbound", "sequence_number": 1000, "source_groups": ["ANY"], "destination_groups": ["ANY"], "services": ["ANY"],
         "action": "DROP", "logged": True}]}}),
]  # fmt: skip

SENSITIVE_PASS: list[tuple[str, str, dict[str, Any]]] = [
    ("sg inline etcd from the control plane", AWS_SECURITY_GROUP,
     {"ingress": [{"protocol": "tcp", "fromPort": 2379, "toPort": 2380, "cidrBlocks": ["10.0.1.0/28"]}],
      "egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]}),
    ("sg rule egress to anywhere", AWS_SECURITY_GROUP_RULE,
     {"type": "egress", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}),
    ("api server to the world is allowed", AWS_INGRESS_RULE,
     {"ipProtocol": "tcp", "fromPort": 6443, "toPort": 6443, "cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg-1"}),
    ("udp range over 10250 is not kubelet", AWS_INGRESS_RULE,
     {"ipProtocol": "udp", "fromPort": 10000, "toPort": 11000, "cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg-1"}),
    ("a /1 is not the world", AWS_INGRESS_RULE,
     {"ipProtocol": "tcp", "fromPort": 2379, "toPort": 2379, "cidrIpv4": "0.0.0.0/1", "securityGroupId": "sg-1"}),
    ("kubelet from a security group", AWS_INGRESS_RULE,
     {"ipProtocol": "tcp", "fromPort": 10250, "toPort": 10250, "referencedSecurityGroupId": "sg-2", "securityGroupId": "sg-1"}),
    ("nutanix v2 destination subnet", NUTANIX_POLICY_V2, {"state": "ENFORCE", "rules": [{"type": "APPLICATION", "specs": [{"applicationRuleSpecs": [
        {"securedGroupCategoryReferences": ["c"], "destSubnets": [{"value": "0.0.0.0", "prefixLength": 0}],
         "tcpServices": [{"startPort": 2379, "endPort": 2380}]}]}]}]}),
    ("nutanix v2 from a category", NUTANIX_POLICY_V2, {"state": "ENFORCE", "rules": [{"type": "APPLICATION", "specs": [{"applicationRuleSpecs": [
        {"securedGroupCategoryReferences": ["c"], "srcCategoryReferences": ["cp"], "tcpServices": [{"startPort": 2379, "endPort": 2380}]}]}]}]}),
    ("nsx policy with only its final rule from ANY", NSX_POLICY, {"body": {"resource_type": "SecurityPolicy", "rules": [
        {"id": "etcd", "sequence_number": 101, "source_groups": ["/g/cp"], "destination_groups": ["/g/cp"], "services": ["/s/etcd"], "action": "ALLOW"},
        {"id": "other-inbound", "sequence_number": 1000, "source_groups": ["ANY"], "destination_groups": ["/g/cp"], "services": ["ANY"],
         "action": "DROP", "logged": True}]}}),
    ("an unrelated resource", "aws:s3/bucket:Bucket", {"bucket": "0.0.0.0/0"}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "type_", "props"), SENSITIVE_FAIL, ids=[c[0] for c in SENSITIVE_FAIL])
def test_sensitive_ports_open_to_the_internet_are_refused(case: str, type_: str, props: dict[str, Any], proxied: bool) -> None:
    found = violations(no_sensitive_ports_from_internet, type_, props, proxied=proxied)
    assert found, case
    assert all("whole Internet" in m for m in found)


@pytest.mark.parametrize(("case", "type_", "props"), SENSITIVE_PASS, ids=[c[0] for c in SENSITIVE_PASS])
def test_sensitive_ports_kept_inside_pass(case: str, type_: str, props: dict[str, Any], proxied: bool) -> None:
    assert violations(no_sensitive_ports_from_internet, type_, props, proxied=proxied) == [], case


def test_the_message_names_the_ports() -> None:
    [message] = violations(no_sensitive_ports_from_internet, *SENSITIVE_FAIL[3][1:])
    assert "10250 (kubelet)" in message and "10257 (kube-controller-manager)" in message and "10259 (kube-scheduler)" in message
    assert "2379" not in message


def test_custom_etcd_ports_come_from_the_policy_config() -> None:
    props = {"ipProtocol": "tcp", "fromPort": 12379, "toPort": 12380, "cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg-1"}
    assert violations(no_sensitive_ports_from_internet, AWS_INGRESS_RULE, props) == []
    assert violations(no_sensitive_ports_from_internet, AWS_INGRESS_RULE, props, config={"extraSensitivePorts": [12379, 12380]})


# --- SSH -----------------------------------------------------------------------------------------------

SSH_FAIL: list[tuple[str, str, dict[str, Any]]] = [
    ("sg inline", AWS_SECURITY_GROUP, {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]}),
    ("sg rule v6", AWS_SECURITY_GROUP_RULE, {"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22, "ipv6CidrBlocks": ["::/0"]}),
    ("vpc ingress all ports", AWS_INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 0, "toPort": 65535, "cidrIpv4": "0.0.0.0/0"}),
    ("nutanix v2", NUTANIX_POLICY_V2, {"state": "ENFORCE", "rules": [{"type": "APPLICATION", "specs": [{"applicationRuleSpecs": [
        {"securedGroupCategoryReferences": ["c"], "srcSubnets": [{"value": "::", "prefixLength": 0}], "tcpServices": [{"startPort": 22, "endPort": 22}]}]}]}]}),
    ("nsxt provider rule with empty source (= ANY)", NSXT_SECURITY_POLICY, {"rules": [
        {"displayName": "debug", "sequenceNumber": 1, "sourceGroups": [], "destinationGroups": ["/g/w"], "services": [], "action": "ALLOW"},
        {"displayName": "deny", "sequenceNumber": 2, "sourceGroups": [], "destinationGroups": [], "services": [], "action": "DROP", "logged": True}]}),
]  # fmt: skip

SSH_PASS: list[tuple[str, str, dict[str, Any]]] = [
    ("sg inline admin range", AWS_SECURITY_GROUP, {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["10.2.0.0/24"]}]}),
    ("sg rule udp 22", AWS_SECURITY_GROUP_RULE, {"type": "ingress", "protocol": "udp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}),
    ("vpc ingress https", AWS_INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"}),
    ("nutanix v2 admin subnet", NUTANIX_POLICY_V2, {"state": "ENFORCE", "rules": [{"type": "APPLICATION", "specs": [{"applicationRuleSpecs": [
        {"securedGroupCategoryReferences": ["c"], "srcSubnets": [{"value": "10.2.0.0", "prefixLength": 24}],
         "tcpServices": [{"startPort": 22, "endPort": 22}]}]}]}]}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "type_", "props"), SSH_FAIL, ids=[c[0] for c in SSH_FAIL])
def test_ssh_from_anywhere_is_refused(case: str, type_: str, props: dict[str, Any], proxied: bool) -> None:
    found = violations(no_ssh_from_internet, type_, props, proxied=proxied)
    assert found and all("SSH" in m for m in found), case


@pytest.mark.parametrize(("case", "type_", "props"), SSH_PASS, ids=[c[0] for c in SSH_PASS])
def test_ssh_from_named_ranges_passes(case: str, type_: str, props: dict[str, Any], proxied: bool) -> None:
    assert violations(no_ssh_from_internet, type_, props, proxied=proxied) == [], case


# --- NSX final rule --------------------------------------------------------------------------------------

ALLOW_ETCD = {"id": "etcd", "sequence_number": 101, "source_groups": ["/g/cp"], "destination_groups": ["/g/cp"],
              "services": ["/s/etcd"], "action": "ALLOW"}  # fmt: skip
FINAL = {"id": "other-inbound", "sequence_number": 1000, "source_groups": ["ANY"], "destination_groups": ["/g/cp", "/g/w"],
         "services": ["ANY"], "action": "DROP", "logged": True, "direction": "IN"}  # fmt: skip


def _nsx(*rules: dict[str, Any], scope: list[str] | None = None) -> dict[str, Any]:
    return {"body": {"resource_type": "SecurityPolicy", "id": "eksa-mgmt", "scope": scope or ["/g/cp", "/g/w"], "rules": list(rules)}}


NSX_FAIL: list[tuple[str, dict[str, Any], str]] = [
    ("no final rule", _nsx(ALLOW_ETCD), "source is not ANY"),
    ("no rules at all", _nsx(), "without rules"),
    ("final rule allows without logging", _nsx(ALLOW_ETCD, {**FINAL, "action": "ALLOW", "logged": False}), "without logging"),
    ("final rule only for one service", _nsx(ALLOW_ETCD, {**FINAL, "services": ["/s/ssh"]}), "service is not ANY"),
    ("final rule disabled", _nsx(ALLOW_ETCD, {**FINAL, "disabled": True}), "disabled"),
    ("final rule not last", _nsx({**FINAL, "sequence_number": 1}, ALLOW_ETCD), "source is not ANY"),
    ("final rule misses a scoped group", _nsx(ALLOW_ETCD, {**FINAL, "destination_groups": ["/g/cp"]}), "scope"),
    ("final rule outbound only", _nsx(ALLOW_ETCD, {**FINAL, "direction": "OUT"}), "outbound"),
    ("rules unreadable", {"body": {"resource_type": "SecurityPolicy"}}, "without rules"),
]  # fmt: skip

NSX_PASS: list[tuple[str, dict[str, Any]]] = [
    ("drop", _nsx(ALLOW_ETCD, FINAL)),
    ("reject, listed first", _nsx({**FINAL, "action": "REJECT"}, ALLOW_ETCD)),
    ("audit mode: allow and log", _nsx(ALLOW_ETCD, {**FINAL, "action": "ALLOW"})),
    ("destination ANY", _nsx(ALLOW_ETCD, {**FINAL, "destination_groups": ["ANY"]})),
    ("flat props (rules at the top)", {"resource_type": "SecurityPolicy", "rules": [ALLOW_ETCD, FINAL]}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "props", "why"), NSX_FAIL, ids=[c[0] for c in NSX_FAIL])
def test_nsx_policy_without_its_final_rule_is_refused(case: str, props: dict[str, Any], why: str, proxied: bool) -> None:
    found = violations(nsx_policy_has_final_rule, NSX_POLICY, props, proxied=proxied)
    assert len(found) == 1 and why in found[0], (case, found)


@pytest.mark.parametrize(("case", "props"), NSX_PASS, ids=[c[0] for c in NSX_PASS])
def test_nsx_policy_with_its_final_rule_passes(case: str, props: dict[str, Any], proxied: bool) -> None:
    assert violations(nsx_policy_has_final_rule, NSX_POLICY, props, proxied=proxied) == [], case


def test_audit_mode_can_be_refused_by_config() -> None:
    props = _nsx(ALLOW_ETCD, {**FINAL, "action": "ALLOW"})
    assert violations(nsx_policy_has_final_rule, NSX_POLICY, props, config={"allowAuditMode": False})


def test_the_nsxt_provider_policy_is_checked_too() -> None:
    rules = [
        {
            "displayName": "etcd",
            "sequenceNumber": 1,
            "sourceGroups": ["/g/cp"],
            "destinationGroups": ["/g/cp"],
            "services": ["/s/etcd"],
            "action": "ALLOW",
        }
    ]
    assert violations(nsx_policy_has_final_rule, NSXT_SECURITY_POLICY, {"rules": rules})
    final = {
        "displayName": "deny",
        "sequenceNumber": 2,
        "sourceGroups": [],
        "destinationGroups": [],
        "services": [],
        "action": "DROP",
        "logged": True,
    }
    assert violations(nsx_policy_has_final_rule, NSXT_SECURITY_POLICY, {"rules": [*rules, final]}) == []


def test_other_dynamic_resources_are_not_nsx_policies() -> None:
    assert violations(nsx_policy_has_final_rule, "pulumi-python:dynamic/nsx:Group", {"body": {"resource_type": "Group"}}) == []
    assert violations(nsx_policy_has_final_rule, "pulumi-python:dynamic:Resource", {"value": 1}) == []


# --- Nutanix SAVE state -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "refused"), [("SAVE", True), (None, True), ("save", True), ("ENFORCE", False), ("MONITOR", False)])
def test_nutanix_policy_left_in_save_state_is_refused(state: str | None, refused: bool, proxied: bool) -> None:
    props: dict[str, Any] = {"name": "eksa-mgmt", "type": "APPLICATION", "rules": []}
    if state is not None:
        props["state"] = state
    found = violations(nutanix_policy_enforced, NUTANIX_POLICY_V2, props, proxied=proxied)
    assert bool(found) is refused
    assert all("SAVE" in m for m in found)


def test_monitor_can_be_refused_by_config() -> None:
    props = {"name": "p", "type": "APPLICATION", "state": "MONITOR"}
    assert violations(nutanix_policy_enforced, NUTANIX_POLICY_V2, props, config={"allowMonitor": False})


def test_other_types_have_no_state_to_check() -> None:
    assert violations(nutanix_policy_enforced, "nutanix:index/categoryV2:CategoryV2", {"key": "k", "value": "v"}) == []
