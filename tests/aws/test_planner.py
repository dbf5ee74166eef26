"""The planner: fewest rules, stable names, descriptions EC2 accepts, and Snow/AWS limits enforced."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from components.aws.planner import AwsPlan, RuleSpec, build_plan, describe, rule_entries
from components.aws.settings import GroupKey, parse_settings
from components.errors import QuotaError
from components.flows import build_flows
from components.topology import parse_topology
from tests.environments import AWS_REGION, PROD_LOAD_BALANCER, cluster_config, edit_cluster, environment

EC2_DESCRIPTION = re.compile(r"^[A-Za-z0-9. _\-:/()#,@\[\]+=&;{}!$*]{1,255}$")


def _plan(cfg: dict[str, Any]) -> AwsPlan:
    topology = parse_topology(cfg)
    return build_plan(topology, build_flows(topology), parse_settings(topology))


def _rules(plan: AwsPlan, cluster: str, role: str, direction: str) -> list[RuleSpec]:
    return list(plan.group(GroupKey(cluster, role)).rules(direction))  # type: ignore[arg-type]


def test_one_group_per_role() -> None:
    plan = _plan(environment("snow"))
    assert [g.key.label for g in plan.groups] == ["mgmt/control-plane", "mgmt/worker", "prod/control-plane", "prod/etcd", "prod/worker"]
    assert [g.name for g in plan.groups][:2] == ["eksa-mgmt-control-plane", "eksa-mgmt-worker"]


def test_ports_of_one_peer_are_merged_into_fewest_rules() -> None:
    plan = _plan(environment("snow"))
    for g in plan.groups:
        for direction in ("ingress", "egress"):
            seen: dict[tuple[str, str], list[tuple[int, int]]] = {}
            for r in g.rules(direction):  # type: ignore[arg-type]
                seen.setdefault((r.peer.key, r.protocol), []).append((r.from_port, r.to_port))
            for (peer, proto), ranges in seen.items():
                if proto in ("tcp", "udp"):
                    ranges.sort()
                    for (_, hi), (lo, _) in itertools.pairwise(ranges):
                        assert lo > hi + 1, f"{g.name} {direction} {peer} {proto}: {ranges} could merge"
    etcd_in = [r for r in _rules(plan, "mgmt", "control-plane", "ingress") if r.from_port == 2379]
    assert [(r.from_port, r.to_port) for r in etcd_in] == [(2379, 2380)]


def test_rules_carry_the_catalog_rows_of_their_own_ports() -> None:
    plan = _plan(environment("snow"))
    by_port = {(r.peer.key, r.from_port): r for r in _rules(plan, "mgmt", "control-plane", "ingress")}
    # mgmt's control plane is 10.10.1.0/26, its workers 10.10.2.0/24 (tests/environments.py)
    assert by_port[("cidr-10-10-1-0-26", 10250)].rows == ("cp-kubelet",)
    assert by_port[("cidr-10-10-1-0-26", 2379)].rows == ("etcd-server",)
    assert by_port[("cidr-10-10-2-0-24", 6443)].rows == ("cp-kube-apiserver", "snow-kube-apiserver")
    assert by_port[("cidr-10-10-2-0-24", 6443)].description == "EKS-A Kubernetes API server [cp-kube-apiserver, snow-kube-apiserver]"


def test_snow_uses_cidrs_and_region_uses_group_references_between_groups() -> None:
    snow = _plan(edit_cluster(environment("snow"), "prod", **PROD_LOAD_BALANCER))
    assert all(r.peer.cidr is not None for g in snow.groups for r in (*g.ingress, *g.egress))
    region = _plan(edit_cluster(environment("snow", aws=AWS_REGION), "prod", **PROD_LOAD_BALANCER))
    peers = {r.peer.key for r in _rules(region, "prod", "control-plane", "ingress")}
    assert {"sg-prod-worker", "sg-prod-control-plane", "sg-mgmt-control-plane", "sg-mgmt-worker"} <= peers
    assert "cidr-10-11-1-200-32" in peers  # the API load balancer is not one of our groups


def test_the_vip_is_a_destination_of_egress_only() -> None:
    plan = _plan(environment("snow"))
    egress = {(r.peer.key, r.from_port) for r in _rules(plan, "prod", "worker", "egress")}
    assert ("cidr-10-11-1-100-32", 6443) in egress  # prod's VIP
    # and no group admits anything "to the VIP": ingress rules have no destination address at all
    assert all(r.peer.key != "cidr-10-11-1-100-32" for g in plan.groups for r in g.ingress)


def test_egress_reaches_the_snow_devices() -> None:
    plan = _plan(environment("snow"))
    egress = {(r.peer.key, r.from_port) for r in _rules(plan, "mgmt", "worker", "egress")}
    assert {("cidr-10-0-0-31-32", 8243), ("cidr-10-0-0-32-32", 9092)} <= egress  # dev-a, dev-b
    assert not any(r.from_port == 8242 for g in plan.groups for r in g.egress), "8242 is the page's erratum"


def test_ipv6_icmp_echo_is_icmpv6_128() -> None:
    cfg = environment(
        "snow",
        clusters=[
            {
                "name": "v6",
                "controlPlane": {"endpoint": "fd00:2::100", "addresses": ["fd00:2::/120"]},
                "workerGroups": [{"name": "md-0", "addresses": ["fd00:2::1:0/120"]}],
            }
        ],
    )
    icmp = [r for r in _rules(_plan(cfg), "v6", "worker", "ingress") if r.protocol.startswith("icmp")]
    assert {(r.protocol, r.from_port, r.to_port) for r in icmp} == {("icmpv6", 128, 0)}


def test_descriptions_are_what_ec2_accepts() -> None:
    plan = _plan(environment("snow", aws=AWS_REGION))
    for g in plan.groups:
        assert EC2_DESCRIPTION.match(g.description)
        for r in (*g.ingress, *g.egress):
            assert EC2_DESCRIPTION.match(r.description), r.description
    long = describe(tuple(["cp-kube-apiserver", "cp-kubelet", "etcd-server", "cilium-health", "cilium-geneve"] * 10))
    assert len(long) <= 255 and long.startswith("EKS-A [cp-kube-apiserver") and "more]" in long


def test_group_descriptions_never_change_with_rules() -> None:
    a = _plan(environment("snow"))
    cfg = environment("snow")
    cfg["clients"]["api"].append("172.16.0.0/24")
    b = _plan(cfg)
    assert [(g.name, g.description) for g in a.groups] == [(g.name, g.description) for g in b.groups]


def test_rule_names_are_unique_per_group() -> None:
    plan = _plan(environment("snow", aws={**AWS_REGION, "groups": {"adminMachine": True}}))
    for g in plan.groups:
        names = [r.name_keys for r in (*g.ingress, *g.egress)]
        assert len(names) == len(set(names)), g.name


DUAL_STACK = [
    {
        "name": "dual",
        "controlPlane": {"endpoint": "10.0.2.100", "addresses": ["10.0.2.0/28", "fd00:2::/120"]},
        "workerGroups": [{"name": "md-0", "addresses": ["10.0.2.16/28", "fd00:2::1:0/120"]}],
    }
]


def test_ipv6_peer_keys_are_never_ambiguous() -> None:
    cfg = environment("snow", clusters=DUAL_STACK, clients={"ssh": ["fd00:1::/128", "fd00::1/128"]})
    keys = {r.peer.key for r in _rules(_plan(cfg), "dual", "worker", "ingress") if r.from_port == 22}
    assert len(keys) == 2


def test_a_cidr_of_the_other_family_is_no_rule() -> None:
    cfg = environment("snow", clients={"ssh": ["fd00:9::/64", "10.0.9.0/24"]})
    ssh = [r for r in _rules(_plan(cfg), "mgmt", "worker", "ingress") if r.from_port == 22]
    assert [r.peer.key for r in ssh] == ["cidr-10-0-9-0-24"]  # v4-only nodes: an IPv6 rule would admit nothing


# --- limits ------------------------------------------------------------------------------------------


def _many(n: int, v6: bool = False) -> list[str]:
    return [f"fd00:{i + 1:x}::/64" if v6 else f"172.16.{i}.0/24" for i in range(n)]


def test_snow_refuses_more_than_60_inbound_rules_naming_the_key() -> None:
    with pytest.raises(QuotaError) as info:
        _plan(environment("snow", clients={"ssh": _many(61)}))
    problem = info.value.problems[0]
    assert problem.key == "clients.ssh"
    assert "60" in problem.message and "Snow" in problem.message
    assert "fewer, wider CIDRs" in problem.fix


def test_snow_counts_ipv4_and_ipv6_together_but_a_region_counts_them_apart() -> None:
    clients = {"ssh": [*_many(35), *_many(35, v6=True)]}
    with pytest.raises(QuotaError):
        _plan(environment("snow", clients=clients, clusters=DUAL_STACK))
    plan = _plan(environment("snow", aws=AWS_REGION, clients=clients, clusters=DUAL_STACK))
    entries = rule_entries(plan.group(GroupKey("dual", "worker")), "ingress", "region")
    assert entries["ipv4"] <= 60 and entries["ipv6"] <= 60


def test_region_refuses_more_than_60_rules_per_family() -> None:
    with pytest.raises(QuotaError) as info:
        _plan(environment("snow", aws=AWS_REGION, clients={"nodePort": _many(61)}))
    assert info.value.problems[0].key == "clients.nodePort"
    assert "IPv4" in info.value.problems[0].message


def test_exactly_60_rules_are_accepted_and_61_refused() -> None:
    single = environment("snow", clusters=DUAL_STACK[:1], clients={"ssh": _many(1)})
    base = rule_entries(_plan(single).group(GroupKey("dual", "control-plane")), "ingress", "snow")["all"]
    fits = 60 - (base - 1)
    plan = _plan(environment("snow", clusters=DUAL_STACK, clients={"ssh": _many(fits)}))
    assert rule_entries(plan.group(GroupKey("dual", "control-plane")), "ingress", "snow")["all"] == 60
    with pytest.raises(QuotaError):
        _plan(environment("snow", clusters=DUAL_STACK, clients={"ssh": _many(fits + 1)}))


def _clusters(n: int) -> list[dict[str, Any]]:
    """``n`` clusters of two groups each (control plane, workers): stacked etcd, one worker group."""
    return [cluster_config(f"c{i}", i) for i in range(n)]


def test_snow_refuses_more_groups_than_a_device_holds() -> None:
    assert len(_plan(environment("snow", clusters=_clusters(25))).groups) == 50  # exactly 50 per device: accepted
    with pytest.raises(QuotaError) as info:
        _plan(environment("snow", clusters=_clusters(26)))
    problem = info.value.problems[0]
    assert problem.key == "aws.placement"
    assert "dev-a" in problem.message and "52" in problem.message


def test_placement_spreads_groups_over_devices() -> None:
    placement = {f"c{i}": ["dev-a" if i % 2 else "dev-b"] for i in range(40)}
    plan = _plan(environment("snow", clusters=_clusters(40), aws={"placement": placement}))
    assert {d.name for d in plan.devices} == {"dev-a", "dev-b"}
    assert len(plan.groups) == 80


def test_names_that_would_collide_are_refused() -> None:
    from components.errors import ConfigError

    cfg = environment(
        "snow",
        endpoints={"snowDevices": [{"name": "snow-1", "address": "10.0.1.2"}, {"name": "snow", "address": "10.0.1.3"}]},
        clusters=[
            {"name": "prod", "controlPlane": {"endpoint": "10.0.2.100", "addresses": ["10.0.2.0/28"]}},
            {"name": "1-prod", "controlPlane": {"endpoint": "10.0.3.100", "addresses": ["10.0.3.0/28"]}},
        ],
    )
    with pytest.raises(ConfigError, match="same name 'snow-1-prod-control-plane'"):
        _plan(cfg)
