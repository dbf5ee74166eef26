"""The planner and the settings, without Pulumi: NSX shapes, limits, stable numbering, membership."""

from __future__ import annotations

from typing import Any

import pytest

from components.errors import ConfigError
from components.ports import PortRange, parse_ports
from components.topology import parse_topology
from components.vsphere.policies import FINAL_RULE_ID, rule_sequence
from components.vsphere.services import MAX_PORT_ENTRIES, port_chunks
from components.vsphere.settings import parse_settings
from tests.environments import JENKINS, edit_cluster, edit_worker_group, environment, role_addresses

from .support import plan_of


def port_weight(ports: tuple[str, ...]) -> int:
    """How NSX counts a destination_ports list: a range counts as 2."""
    return sum(2 if "-" in p else 1 for p in ports)


def test_port_chunks_respect_the_15_entry_limit_deterministically() -> None:
    singles = tuple(PortRange.single(p) for p in range(1000, 1032, 2))  # 16 single ports
    assert [len(c) for c in port_chunks(singles)] == [15, 1]
    ranges = tuple(PortRange(p, p + 1) for p in range(2000, 2080, 10))  # 8 ranges, weight 16
    assert [port_weight(c) for c in port_chunks(ranges)] == [14, 2]
    mixed = parse_ports("22,80,443,2379-2380,6443,10250,30000-32767")
    assert port_chunks(mixed) == (("22", "80", "443", "2379-2380", "6443", "10250", "30000-32767"),)
    for chunk in port_chunks(singles + ranges):
        assert port_weight(chunk) <= MAX_PORT_ENTRIES


def test_rule_numbers_do_not_move_when_rules_are_added() -> None:
    before = {r.id: r.sequence_number for p in plan_of(environment("vsphere")).policies for r in p.rules}
    after_plan = plan_of(environment("vsphere", managementTools=JENKINS))
    after = {r.id: r.sequence_number for p in after_plan.policies for r in p.rules}
    assert set(before) < set(after)
    assert all(after[k] == v for k, v in before.items())
    for policy in after_plan.policies:
        numbers = [r.sequence_number for r in policy.rules]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
        assert policy.rules[-1].id == FINAL_RULE_ID
    assert rule_sequence("admin-machine", "control-plane") == rule_sequence("admin-machine", "control-plane")


def test_final_rule_drops_logged_and_never_all_any() -> None:
    for mode, action in (("enforce", "DROP"), ("audit", "ALLOW")):
        config = environment("vsphere", vsphere={"nsx": {"mode": mode}})
        for policy in plan_of(config).policies:
            body = policy.body("owner")
            final = body["rules"][-1]
            assert (final["action"], final["logged"], final["direction"]) == (action, True, "IN")
            for rule in body["rules"]:
                assert not (rule["source_groups"] == ["ANY"] and rule["destination_groups"] == ["ANY"] and rule["scope"] == ["ANY"])
            assert body["scope"] != ["ANY"]  # applied to the cluster's groups by default
            assert len(final["destination_groups"]) >= 2


def test_groups_per_role_and_peer_and_management_cluster_sources() -> None:
    p = plan_of(environment("vsphere"))
    keys = [g.key for g in p.groups]
    assert keys == sorted(keys)
    assert {
        "mgmt-control-plane",
        "mgmt-worker",
        "prod-control-plane",
        "prod-etcd",
        "prod-worker",
        "prod-control-plane-vip",
        "peer-admin-machine",
    } <= set(keys)
    prod = next(x for x in p.policies if x.cluster == "prod")
    rule = next(r for r in prod.rules if r.id == "management-cluster-to-control-plane")
    assert rule.sources == ("/infra/domains/default/groups/eksa-mgmt-control-plane", "/infra/domains/default/groups/eksa-mgmt-worker")
    assert set(prod.groups) >= {"mgmt-control-plane", "mgmt-worker"}  # so the policy depends on them


def test_membership_tag_and_vm_name_conditions() -> None:
    membership = {"control-plane": "tag", "etcd": "vmName", "worker": "vmName"}
    config = environment("vsphere", vsphere={"nsx": {"membership": membership, "nsxTagScope": "k8s-role"}})
    p = plan_of(config)
    body = {g.key: g.body("o") for g in p.groups}
    assert body["prod-control-plane"]["expression"] == [
        {
            "resource_type": "Condition",
            "member_type": "VirtualMachine",
            "key": "Tag",
            "operator": "EQUALS",
            "value": "k8s-role|prod-control-plane",
        }
    ]
    assert body["prod-etcd"]["expression"][0]["value"] == "prod-etcd-"
    assert body["prod-worker"]["expression"][0] == {
        "resource_type": "Condition", "member_type": "VirtualMachine", "key": "Name", "operator": "STARTSWITH", "value": "prod-md-0-",
    }  # fmt: skip
    assert body["peer-admin-machine"]["expression"][0]["resource_type"] == "IPAddressExpression"


def test_ipv6_adds_icmpv6_echo() -> None:
    config = edit_worker_group(environment("vsphere"), "mgmt", "md-0", addresses=["fd00:10:2::/64"])
    entries = {e.protocol: e.icmp_type for s in plan_of(config).services if s.key == "icmp-8" for e in s.entries}
    assert entries == {"ICMPv4": 8, "ICMPv6": 128}


def _errors(config: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(parse_topology(config))
    return {p.key: f"{p.message} / {p.fix}" for p in info.value.problems}


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        ({"nsx": {"username": "u"}}, "vsphere.nsx.host", "is required"),
        ({"nsx": {"host": "nsx", "username": "u", "mode": "log"}}, "vsphere.nsx.mode", "enforce, audit"),
        ({"nsx": {"host": "nsx", "username": "u", "category": "Ethernet"}}, "vsphere.nsx.category", "layer-2"),
        ({"nsx": {"host": "nsx", "username": "u", "sequenceNumber": 1_000_000}}, "vsphere.nsx.sequenceNumber", "999999"),
        ({"nsx": {"host": "nsx", "username": "u", "membership": "vmName"}}, "vsphere.nsx.membership", "control-plane"),
        (
            {"nsx": {"host": "nsx", "username": "u", "membership": {"control-plane": "vmName"}}},
            "vsphere.nsx.membership.control-plane",
            "no role marker",
        ),
        ({"nsx": {"host": "nsx", "username": "u", "insecure": True, "caBundle": "ca.pem"}}, "vsphere.nsx.insecure", "caBundle"),
        ({"nsx": {"host": "nsx", "username": "u", "idPrefix": "bad prefix"}}, "vsphere.nsx.idPrefix", "not a valid NSX id"),
        ({"nsx": {"host": "nsx", "username": "u", "auth": "token"}}, "vsphere.nsx.auth", "session, basic"),
        ({"nsx": {"host": "nsx", "username": "u", "pasword": "x"}}, "vsphere.nsx.pasword", "not a known key"),
        ({}, "vsphere.nsx", "enabled: false"),
    ],
)
def test_settings_errors_name_the_key_and_the_fix(section: dict[str, Any], key: str, words: str) -> None:
    errors = _errors(environment("vsphere", vsphere=None) | {"vsphere": section})  # the whole section replaced
    assert key in errors, errors
    assert words in errors[key]


def test_vm_name_conflicts_are_refused() -> None:
    config = environment("vsphere", vsphere={"nsx": {"membership": {"worker": "vmName"}}})
    config = edit_cluster(config, "prod", workerGroups=[{"name": "etcd-pool", "addresses": role_addresses(config, "prod", "worker")}])
    assert "like the etcd machines" in " ".join(_errors(config).values())
    config = environment("vsphere", vsphere={"nsx": {"membership": {"etcd": "vmName"}}})
    config = edit_cluster(edit_cluster(config, "mgmt", name="prod-x"), "prod", managedBy="prod-x")
    assert "would match them" in " ".join(_errors(config).values())


def test_settings_defaults() -> None:
    s = parse_settings(parse_topology(environment("vsphere")))
    assert (s.nsx.domain, s.nsx.category, s.nsx.mode, s.nsx.applied_to, s.nsx.id_prefix) == (
        "default",
        "Application",
        "enforce",
        "groups",
        "eksa",
    )
    assert s.nsx.connection is not None
    assert (s.nsx.connection.auth, s.nsx.connection.insecure, s.nsx.connection.port) == ("session", False, 443)
    assert s.tags.enabled and s.nsx.membership_of("worker") == "ipset"


@pytest.mark.parametrize("name", ["p", "peer", "peer-a"])
def test_which_cluster_a_peer_group_serves_does_not_depend_on_the_cluster_name(name: str) -> None:
    """The VIP's group belongs to its cluster and the admin machine's to none, whatever the cluster is called
    (a cluster named like the start of ``peer-<peer>`` once made the shared groups look like its own)."""
    config = environment("vsphere")
    config["clusters"][0]["name"] = name
    config["clusters"][1]["managedBy"] = name
    groups = {g.key: g for g in plan_of(config).groups}
    assert (groups[f"{name}-control-plane-vip"].cluster, groups["peer-admin-machine"].cluster) == (name, None)
    assert groups[f"{name}-control-plane-vip"].description == f"eksa-firewall peer control-plane-vip of cluster {name}"
    assert groups["peer-admin-machine"].description == "eksa-firewall peer admin-machine"
