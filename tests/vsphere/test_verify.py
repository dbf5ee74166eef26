"""verify under Pulumi's mocks: the rendered NSX policy allows exactly the required flows into each cluster."""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
from typing import Any

import pytest
from hypothesis import given, settings

from components.engine import Registration
from components.verify import verify
from tests.environments import environment, environments, role_addresses
from tests.helpers import plan_config, plan_stack


def _ok(config: dict[str, Any]) -> None:
    planned = plan_config(config)
    report = verify(planned.topology, planned.flows, planned.run.resources)
    assert report.required, "nothing to enforce: the test would prove nothing"
    assert report.ok, {"missing": report.missing[:5], "excess": report.excess[:5]}


def test_example_stack_verifies() -> None:
    planned = plan_stack("vsphere-example")
    report = verify(planned.topology, planned.flows, planned.run.resources)
    assert report.ok, {"missing": report.missing[:5], "excess": report.excess[:5]}
    assert len(report.required) > 50


def _variant(name: str) -> dict[str, Any]:
    c = environment("vsphere")  # edited in place below (the addresses of a variant are its own)
    prod = c["clusters"][1]
    if name == "stacked etcd":
        del prod["etcd"]
    elif name == "jenkins":
        c["managementTools"] = {"jenkins": {"address": "10.20.0.50", "clients": ["10.30.0.0/16"]}}
    elif name == "no cilium":
        c["cilium"] = False
    elif name == "api port 443":
        prod["controlPlane"]["apiServerPort"] = 443
    elif name == "load balancer":
        prod["controlPlane"]["loadBalancer"] = {"address": "10.22.0.200", "port": 443}
        c["managementTools"] = {"jenkins": {"address": "10.20.0.50", "clients": ["10.30.0.0/16"]}}
    elif name == "custom etcd ports":
        prod["etcd"].update(clientPort=12379, peerPort=12380)
    elif name == "no workers":
        del prod["workerGroups"]
    elif name == "no clients":
        del c["clients"]
    elif name == "ipv6":
        c["adminMachine"]["addresses"] = ["10.20.0.10", "fd00:20::10"]
        c["clients"]["api"] = ["10.30.0.0/16", "fd00:30::/48"]
        prod["controlPlane"]["addresses"] = ["10.22.0.16/28", "fd00:22::/112"]
        prod["workerGroups"][0]["addresses"] = ["fd00:22:1::/64"]
    elif name == "tag membership":
        c["vsphere"]["nsx"]["membership"] = "tag"
    elif name == "vmName membership":
        c["vsphere"]["nsx"]["membership"] = {"control-plane": "tag", "etcd": "vmName", "worker": "vmName"}
        prod["workerGroups"].append({"name": "gpu", "addresses": ["10.22.2.0/26"]})
    elif name == "applied to dfw":
        c["vsphere"]["nsx"]["appliedTo"] = "dfw"
    elif name == "three clusters":
        third = copy.deepcopy(prod)
        third.update(name="dev")
        third["controlPlane"].update(endpoint="10.23.0.10", addresses=["10.23.0.16/28"])
        third["etcd"]["addresses"] = ["10.23.0.32/28"]
        third["workerGroups"] = [{"name": "a", "addresses": ["10.23.1.0/24"]}, {"name": "b", "addresses": ["10.23.2.0/24"]}]
        c["clusters"].append(third)
    elif name == "shared subnets":  # DHCP: every role of both clusters in one network
        for cl in c["clusters"]:
            cl["controlPlane"]["addresses"] = ["10.50.0.0/22"]
            for g in cl.get("workerGroups", []):
                g["addresses"] = ["10.50.0.0/22"]
        prod["etcd"]["addresses"] = ["10.50.0.0/22"]
        c["allowOverlappingRoles"] = True  # stated: with DHCP, addresses cannot tell the roles apart
    return c


VARIANTS = [
    "base", "stacked etcd", "jenkins", "no cilium", "api port 443", "load balancer", "custom etcd ports", "no workers",
    "no clients", "ipv6", "tag membership", "vmName membership", "applied to dfw", "three clusters", "shared subnets",
]  # fmt: skip


@pytest.mark.parametrize("variant", VARIANTS)
def test_variants_verify(variant: str) -> None:
    _ok(_variant(variant))


def test_audit_mode_reports_everything_else_as_excess() -> None:
    planned = plan_config(environment("vsphere", vsphere={"nsx": {"mode": "audit"}}))
    report = verify(planned.topology, planned.flows, planned.run.resources)
    assert not report.missing
    assert report.excess  # the final rule allows (and logs) every other connection
    assert {str(a.source) for a in report.excess} >= {"0.0.0.0/0"}


def _tampered(resources: tuple[Registration, ...], change: Any) -> list[Registration]:
    out = []
    for r in resources:
        if r.type == "pulumi-python:dynamic/nsx:SecurityPolicy" and r.name.endswith("prod"):
            body = copy.deepcopy(dict(r.inputs["body"]))
            change(body)
            r = dataclasses.replace(r, inputs={**r.inputs, "body": body})
        out.append(r)
    return out


def test_verify_catches_a_missing_rule_and_a_too_wide_rule() -> None:
    env = environment("vsphere")
    planned = plan_config(env)

    def drop_ssh(body: dict[str, Any]) -> None:
        body["rules"] = [r for r in body["rules"] if r["id"] != "ssh-clients-to-worker"]

    report = verify(planned.topology, planned.flows, _tampered(planned.run.resources, drop_ssh))
    assert report.missing and not report.excess
    assert {a.ports.lo for a in report.missing} == {22}

    def widen(body: dict[str, Any]) -> None:
        rule = next(r for r in body["rules"] if r["id"] == "ssh-clients-to-worker")
        rule["source_groups"] = ["ANY"]

    report = verify(planned.topology, planned.flows, _tampered(planned.run.resources, widen))
    # verify compares exact networks: the wider source shows as excess (and the exact one as missing).
    assert [str(a.source) for a in report.excess] == ["0.0.0.0/0"]

    def drop_first(body: dict[str, Any]) -> None:
        body["rules"][-1]["sequence_number"] = 1  # the final DROP moved to the top: it shadows every ALLOW

    report = verify(planned.topology, planned.flows, _tampered(planned.run.resources, drop_first))
    assert not report.excess
    # every flow into prod (its VIP, control plane, etcd and workers) is missing
    prod = [a for role in ("control-plane-vip", "control-plane", "etcd", "worker") for a in role_addresses(env, "prod", role)]
    assert len(prod) == 4
    assert {str(a.destination) for a in report.missing} == {str(ipaddress.ip_network(a)) for a in prod}


# --- generated configurations --------------------------------------------------------------------------


@settings(max_examples=40)
@given(environments("vsphere"))
def test_generated_configurations_verify(config: dict[str, Any]) -> None:
    _ok(config)
