"""The planner, pure: one source per rule, a deterministic order that appends, services from catalog rows."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings

from components.flows import build_flows
from components.nutanix import planner
from components.nutanix.planner import PEER_ORDER, NutanixPlan, PolicySpec, RuleSpec, plan
from components.nutanix.settings import parse_settings
from components.ports import subtract
from components.topology import parse_topology
from tests.environments import cluster, edit_cluster, environment, environments


def planned(cfg: dict[str, Any]) -> NutanixPlan:
    topology = parse_topology(cfg)
    return plan(topology, build_flows(topology), parse_settings(topology))


def identity(rule: RuleSpec) -> tuple[str, str | None]:
    """What makes a rule *that* rule in Prism: its kind and its one source."""
    return rule.kind, rule.source.ref if rule.source else None


def policy(p: NutanixPlan, cluster: str, role: str) -> PolicySpec:
    return next(x for x in p.policies if (x.cluster, x.role) == (cluster, role))


@settings(max_examples=40)
@given(environments("nutanix"))
def test_every_rule_has_one_source_and_the_order_is_canonical(cfg: dict[str, Any]) -> None:
    p = planned(cfg)
    for pol in p.policies:
        kinds = [r.kind for r in pol.rules]
        assert kinds[:2] == ["outbound", "intra"]
        assert all(k == "inbound" for k in kinds[2:])
        inbound = pol.rules[2:]
        assert all(r.source is not None and r.services for r in inbound)
        keys = [r.sort_key for r in pol.rules]
        assert keys == sorted(keys) and len(set(keys)) == len(keys), "order must be total and follow the stable key"
        assert len({identity(r) for r in pol.rules}) == len(pol.rules), "one rule per source"


@settings(max_examples=40)
@given(environments("nutanix"))
def test_vip_flows_are_covered_by_the_control_plane_flows(cfg: dict[str, Any]) -> None:
    """Why the interpreter may leave the VIP out: every flow to it is also a flow to the control plane."""
    flows = build_flows(parse_topology(cfg)).flows
    to_cp = {(f.cluster, f.source, f.protocol): f.ports for f in flows if f.destination == "control-plane"}
    for f in flows:
        if f.destination == "control-plane-vip":
            assert not subtract(f.ports, to_cp.get((f.cluster, f.source, f.protocol), ())), f


def test_plan_is_deterministic() -> None:
    assert planned(environment("nutanix")) == planned(environment("nutanix"))


def test_adding_a_range_to_a_peer_changes_no_rule() -> None:
    before = planned(environment("nutanix"))
    cfg = environment("nutanix")
    for k, extra in (("api", "10.50.0.0/16"), ("ssh", "10.51.0.0/24"), ("nodePort", "10.52.0.0/16")):
        cfg["clients"][k].append(extra)
    cfg["adminMachine"]["addresses"].append("10.10.0.6")
    after = planned(cfg)
    assert [p.rules for p in after.policies] == [p.rules for p in before.policies]
    assert [a.key for a in after.address_groups] == [b.key for b in before.address_groups]
    assert {a.key: len(a.networks) for a in after.address_groups} == {
        f"{c}/{peer}": 2 for c in ("mgmt", "prod") for peer in ("admin-machine", "api-clients", "ssh-clients", "nodeport-clients")
    }


def test_a_peers_first_range_appends_its_rule() -> None:
    cfg = environment("nutanix")
    cfg["clients"] = {"api": ["10.20.0.0/16"]}
    before = planned(cfg)
    cfg["clients"]["ssh"] = ["10.20.5.0/24"]
    middle = planned(cfg)
    cfg["clients"]["nodePort"] = ["10.20.0.0/16"]
    after = planned(cfg)
    for old, new in ((before, middle), (middle, after)):
        for o, n in zip(old.policies, new.policies, strict=True):
            assert [identity(r) for r in n.rules[: len(o.rules)]] == [identity(r) for r in o.rules]
    assert [identity(r) for r in policy(after, "mgmt", "worker").rules][-2:] == [
        ("inbound", "mgmt/ssh-clients"),
        ("inbound", "mgmt/nodeport-clients"),
    ]


def test_rules_of_the_example_roles() -> None:
    p = planned(environment("nutanix"))
    cp = [identity(r) for r in policy(p, "prod", "control-plane").rules]
    assert cp == [
        ("outbound", None),
        ("intra", None),
        ("inbound", "prod/worker"),
        ("inbound", "mgmt/control-plane"),
        ("inbound", "mgmt/worker"),
        ("inbound", "prod/admin-machine"),
        ("inbound", "prod/api-clients"),
        ("inbound", "prod/ssh-clients"),
    ]
    etcd = policy(p, "prod", "etcd")
    assert [identity(r) for r in etcd.rules][2:] == [
        ("inbound", "prod/control-plane"),
        ("inbound", "mgmt/control-plane"),
        ("inbound", "mgmt/worker"),
        ("inbound", "prod/admin-machine"),
        ("inbound", "prod/ssh-clients"),
    ]
    # Intra-group: only what the flows require (etcd peers), never "allow everything".
    assert etcd.rules[1].services == ("prod/etcd-server/tcp/2379-2380",)


def test_services_are_catalog_rows_with_their_effective_ports() -> None:
    cfg = edit_cluster(environment("nutanix"), "prod", controlPlane={"apiServerPort": 443}, etcd={"clientPort": 12379, "peerPort": 12380})
    p = planned(cfg)
    keys = {s.key for s in p.service_groups}
    assert {"prod/cp-kube-apiserver/tcp/443", "mgmt/cp-kube-apiserver/tcp/6443", "prod/etcd-server/tcp/12379-12380"} <= keys
    assert "prod/nutanix-etcd-client/tcp/12379" in keys and "prod/nutanix-etcd-peer/tcp/12380" in keys
    assert next(s for s in p.service_groups if s.key == "mgmt/cilium-icmp-echo/icmp/8").name == "eksa-mgmt-cilium-icmp-echo-icmp-8"


def test_cilium_off_leaves_no_cilium_service() -> None:
    cfg = environment("nutanix", cilium=False)
    assert not [s for s in planned(cfg).service_groups if s.row.startswith("cilium")]


def test_ipv6_peers_become_one_subnet_rule_each_only_where_nodes_have_ipv6() -> None:
    cfg = environment("nutanix")
    cfg["clients"]["api"].append("fd10::/64")
    assert not [r for pol in planned(cfg).policies for r in pol.rules if r.source and r.source.kind == "subnet"]
    cluster(cfg, "mgmt")["controlPlane"]["addresses"].append("fd00:1::/64")
    cfg["clients"]["api"].append("2001:db8::/48")
    mgmt_cp = policy(planned(cfg), "mgmt", "control-plane")
    subnets = [r.source.ref for r in mgmt_cp.rules if r.source and r.source.kind == "subnet"]
    assert subnets == ["2001:db8::/48", "fd10::/64"]
    assert mgmt_cp.rules[-2].source is not None and mgmt_cp.rules[-2].source.kind == "subnet"  # after the address groups


def test_peer_order_puts_client_ranges_last() -> None:
    assert PEER_ORDER[-3:] == ("api-clients", "ssh-clients", "nodeport-clients")


def test_rule_order_does_not_depend_on_descriptions(monkeypatch: pytest.MonkeyPatch) -> None:
    """A source's label is display text: rewording every label moves no rule (the order comes from cluster,
    role, peer and network)."""
    cfg = environment("nutanix")
    cfg["clusters"][0]["controlPlane"]["addresses"].append("fd00:1::/64")
    cfg["clients"]["api"] += ["fd10::/64", "2001:db8::/48"]
    before = planned(cfg)
    for name in ("role_source", "peer_source", "subnet_source"):
        make = getattr(planner, name)
        monkeypatch.setattr(planner, name, lambda *args, make=make: dataclasses.replace(make(*args), label=f"~{make(*args).ref[::-1]}"))
    after = planned(cfg)
    assert [r.source.label for p in after.policies for r in p.rules if r.source] != [
        r.source.label for p in before.policies for r in p.rules if r.source
    ]
    assert [[identity(r) for r in p.rules] for p in after.policies] == [[identity(r) for r in p.rules] for p in before.policies]
