"""verify: the interpreter reads the registered nftables text back into accesses, independently of the flows."""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

import pytest
from hypothesis import given, settings

from components.baremetal import PLATFORM
from components.baremetal.hosts import host_roles
from components.baremetal.interpret import InterpretError, parse_ruleset, ruleset_accesses
from components.engine import Registration
from components.flows import Access
from components.ports import PortRange
from components.verify import verify
from tests.baremetal.common import example_config, external_etcd_config, ipv6_config, plan, plan_example, workload_cluster_config
from tests.environments import edit_cluster, environments, merge
from tests.helpers import Planned


def _with_reject(cfg: dict[str, Any]) -> dict[str, Any]:
    cfg["baremetal"] = {"defaultAction": "reject", "table": "fw"}
    return cfg


def _with_lb_and_jenkins(cfg: dict[str, Any]) -> dict[str, Any]:
    cfg = merge(cfg, {"managementTools": {"jenkins": {"address": "203.0.113.6", "clients": ["203.0.113.128/26"]}}})
    return edit_cluster(cfg, "mgmt", controlPlane={"loadBalancer": {"address": "203.0.113.5", "port": 443}})


def _older(cfg: dict[str, Any]) -> dict[str, Any]:
    cfg["eksaVersion"] = "v0.21"
    return cfg


def _no_cilium_no_admin(cfg: dict[str, Any]) -> dict[str, Any]:
    cfg["cilium"] = False
    cfg["adminMachine"] = {"addresses": ["198.51.100.0/28"]}  # a range that holds nodes too: stated explicitly
    cfg["allowOverlappingRoles"] = True
    return cfg


VARIANTS = {
    "external-etcd": external_etcd_config,
    "workload-cluster": workload_cluster_config,
    "ipv6": ipv6_config,
    "reject": lambda: _with_reject(example_config()),
    "load-balancer-and-jenkins": lambda: _with_lb_and_jenkins(example_config()),
    "v0.21": lambda: _older(external_etcd_config()),
    "no-cilium-admin-range": lambda: _no_cilium_no_admin(workload_cluster_config()),
}


def test_verify_example_stack() -> None:
    p = plan_example()
    report = verify(p.topology, p.flows, p.run.resources)
    assert report.ok, report.to_json()
    assert len(report.required) == 225


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_verify_variants(variant: str) -> None:
    p = plan(VARIANTS[variant]())
    report = verify(p.topology, p.flows, p.run.resources)
    assert report.ok, report.to_json()
    assert report.required


@settings(max_examples=25)
@given(environments("baremetal"))
def test_generated_environments_verify(cfg: dict[str, Any]) -> None:
    p = plan(cfg)
    report = verify(p.topology, p.flows, p.run.resources)
    assert report.ok, report.to_json()
    assert report.required


def test_the_rulesets_decide_the_flows_into_hosts_with_a_ruleset() -> None:
    p = plan(_with_lb_and_jenkins(example_config()))
    inbound = PLATFORM.visibility(p.topology).inbound
    left_out = {(f.source, f.destination) for f in p.flows.flows if f.destination not in inbound}
    assert left_out == {
        ("admin-machine", "bmc"),
        ("control-plane", "bmc"),
        ("worker", "bmc"),
        ("api-clients", "api-load-balancer"),
        ("jenkins", "api-load-balancer"),
        ("jenkins-clients", "jenkins"),
    }


def _tampered(p: Planned, host: str, change: Any) -> list[Registration]:
    """The registrations with ``host``'s ruleset changed everywhere it is carried."""
    urn = next(r.urn for r in p.run.resources if r.inputs.get("host") == host)
    out = []
    for r in p.run.resources:
        if r.urn == urn:
            r = dataclasses.replace(r, inputs={**r.inputs, "ruleset": change(r.inputs["ruleset"])})
        elif r.parent == urn and "stdin" in r.inputs:
            r = dataclasses.replace(r, inputs={**r.inputs, "stdin": change(r.inputs["stdin"])})
        out.append(r)
    return out


def test_verify_reports_a_missing_rule() -> None:
    p = plan_example()
    resources = _tampered(p, "mgmt/worker", lambda t: "\n".join(line for line in t.splitlines() if "worker-kubelet" not in line))
    report = verify(p.topology, p.flows, resources)
    assert not report.ok and not report.excess
    assert {(str(a.source), str(a.destination), a.protocol, str(a.ports)) for a in report.missing} >= {
        ("198.51.100.11/32", "198.51.100.21/32", "tcp", "10250"),
    }


def test_verify_reports_an_excess_rule() -> None:
    p = plan_example()
    extra = "\t\tip saddr @worker_at_mgmt_v4 tcp dport 2379 accept\n"
    resources = _tampered(p, "mgmt/control-plane", lambda t: t.replace("\t\tiif lo accept\n", "\t\tiif lo accept\n" + extra))
    report = verify(p.topology, p.flows, resources)
    assert not report.missing
    assert {(str(a.source), str(a.destination), str(a.ports)) for a in report.excess} == {
        (w, d, "2379")
        for w in ("198.51.100.21/32", "198.51.100.22/32")
        for d in ("198.51.100.11/32", "198.51.100.12/32", "198.51.100.13/32", "198.51.100.100/32", "198.51.100.101/32")
    }


def test_what_the_commands_carry_must_be_the_registered_ruleset() -> None:
    cfg = example_config()
    cfg["baremetal"] = {"apply": {"enabled": True}, "outputDir": "build/x"}
    p = plan(cfg)
    assert verify(p.topology, p.flows, p.run.resources).ok
    for kind in ("command:remote:Command", "command:local:Command"):
        resources = [
            dataclasses.replace(
                r, inputs={**r.inputs, "stdin": r.inputs["stdin"].replace("tcp dport 22 accept", "tcp dport { 22, 2222 } accept")}
            )
            if r.type == kind and "stdin" in r.inputs
            else r
            for r in p.run.resources
        ]
        with pytest.raises(InterpretError, match="carries another ruleset than its parent"):
            verify(p.topology, p.flows, resources)


def _host(key: str) -> Any:
    from components.topology import parse_topology
    from tests.helpers import read_file

    return next(h for h in host_roles(parse_topology(example_config(), read_file=read_file)) if h.key == key)


def _chain(*rules: str) -> str:
    body = "\n".join(f"\t\t{r}" for r in rules)
    return f"table inet t {{\n\tchain input {{\n\t\ttype filter hook input priority filter; policy drop;\n{body}\n\t}}\n}}\n"


def net(text: str) -> Any:
    return ipaddress.ip_network(text)


def test_rule_without_daddr_means_every_address_the_machines_hold() -> None:
    worker = _host("mgmt/worker")
    got = set(ruleset_accesses(_chain("ip saddr 203.0.113.9 tcp dport 9100 accept"), worker))
    assert got == {Access(net("203.0.113.9/32"), net(d), "tcp", PortRange(9100, 9100)) for d in ("198.51.100.21/32", "198.51.100.22/32")}


def test_destination_outside_the_machines_matches_nothing_and_ranges_are_clipped() -> None:
    worker = _host("mgmt/worker")
    assert ruleset_accesses(_chain("ip saddr 203.0.113.9 ip daddr 198.51.100.11 tcp dport 22 accept"), worker) == []
    got = set(ruleset_accesses(_chain("ip saddr 203.0.113.9 ip daddr 198.51.100.0/24 tcp dport 22 accept"), worker))
    assert {str(a.destination) for a in got} == {"198.51.100.21/32", "198.51.100.22/32"}


def test_broadcast_only_means_the_machines_themselves() -> None:
    cp = _host("mgmt/control-plane")
    got = {str(a.destination) for a in ruleset_accesses(_chain("ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp dport 67 accept"), cp)}
    assert got == {"198.51.100.11/32", "198.51.100.12/32", "198.51.100.13/32", "198.51.100.100/32", "198.51.100.101/32"}


def test_trusted_interface_is_access_from_anywhere() -> None:
    worker = _host("mgmt/worker")
    got = set(ruleset_accesses(_chain('iifname "eth1" accept'), worker))
    assert Access(net("0.0.0.0/0"), net("198.51.100.21/32"), "tcp", PortRange(0, 65535)) in got
    assert Access(net("0.0.0.0/0"), net("198.51.100.21/32"), "icmp", PortRange(0, 255)) in got


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_chain("tcp dport 22 drop", "ip saddr 1.2.3.4 tcp dport 22 accept"), "conditional drop"),
        (_chain("ip saddr != 1.2.3.4 accept"), "negated match"),
        (_chain("meta mark 1 accept"), "is not modelled"),
        ("flush ruleset\n", "not modelled"),
        ("delete table inet nothere\n", "no such table"),
        (_chain("ip saddr @nope accept"), "does not define"),
        (_chain("tcp dport 22 accept").replace("policy drop", "policy accept"), "policy accept"),
    ],
)
def test_what_is_not_modelled_is_an_error(text: str, message: str) -> None:
    with pytest.raises(InterpretError, match=message):
        ruleset_accesses(text, _host("mgmt/worker"))


def test_parse_replays_table_statements() -> None:
    text = "table inet a {}\ndelete table inet a\ntable inet a {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t}\n}\n"
    tables = parse_ruleset(text)
    assert list(tables) == [("inet", "a")] and tables[("inet", "a")].chains["input"].policy == "drop"
