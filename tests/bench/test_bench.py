"""Fast, untimed checks of the bench's own parts: generated stacks are valid, minimums are right on small cases."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from components.verify import verify
from tests.bench.economy import economy
from tests.bench.floor import _camel, _snake, sdk_class
from tests.bench.generate import CASES, case, generated_config, grow_clusters, secrets_of
from tests.bench.run import sdk_modules
from tests.helpers import plan_config, plan_stack


def _registrations(planned: Any) -> list[dict[str, Any]]:
    return [{**r.to_json(), "custom": r.custom, "provider": r.provider} for r in planned.run.resources]


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.name)
def test_generated_stacks_plan_verify_and_are_economical(c: Any) -> None:
    config = generated_config(c, 3)
    plain, secrets = secrets_of(config)
    planned = plan_config(plain, secrets=secrets)
    assert [x.name for x in planned.topology.clusters] == sorted(x["name"] for x in config["clusters"])
    assert verify(planned.topology, planned.flows, planned.run.resources).ok
    assert economy(c.platform, config, _registrations(planned)).worst == 1.0


def test_grown_clusters_have_distinct_non_overlapping_ranges_and_keep_management() -> None:
    templates = [
        {"name": "mgmt", "controlPlane": {"endpoint": "10.20.1.100", "addresses": ["10.20.1.0/28"]}},
        {"name": "prod", "managedBy": "mgmt", "controlPlane": {"endpoint": "10.20.2.100", "addresses": ["10.20.2.0/28"]}},
    ]
    grown = grow_clusters(templates, 5)
    assert [g["name"] for g in grown] == ["mgmt", "prod", "mgmt1", "prod1", "mgmt2"]
    assert [g.get("managedBy") for g in grown] == [None, "mgmt", None, "mgmt1", None]
    nets = [ipaddress.ip_network(g["controlPlane"]["addresses"][0]) for g in grown]
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    assert str(nets[3]) == "10.103.2.0/28"  # cluster 3 in 10.103.0.0/16, low 16 bits kept


def test_snow_gets_devices_and_placement_only_beyond_50_groups_per_device() -> None:
    small = generated_config(case("snow"), 10)
    assert "placement" not in small["aws"] and len(small["endpoints"]["snowDevices"]) == 2
    big = generated_config(case("snow"), 50)
    devices = {d["name"] for d in big["endpoints"]["snowDevices"]}
    per_device: dict[str, int] = {}
    for c in big["clusters"]:
        groups = 1 + bool(c.get("etcd", {}).get("external")) + bool(c.get("workerGroups"))
        for d in big["aws"]["placement"][c["name"]]:
            assert d in devices
            per_device[d] = per_device.get(d, 0) + groups
    assert max(per_device.values()) <= 50


def test_minimums_on_the_vsphere_example() -> None:
    planned = plan_stack("vsphere-example")
    from tests.helpers import example_args

    e = economy("vsphere", example_args("vsphere-example"), _registrations(planned))
    counts = {c.kind: (c.registered, c.minimum) for c in e.counts}
    # 2 policies (one per cluster) and their rules: one per (source, destination) pair plus one final rule each
    assert counts["security policies"] == (2, 2)
    assert counts["policy rules"][1] == len({(f.cluster, f.source, f.destination) for f in _enforced(planned)}) + 2
    assert counts["NSX services"][1] == len({(f.protocol, f.ports) for f in _enforced(planned)})


def _enforced(planned: Any) -> list[Any]:
    return [f for f in planned.flows.flows if f.destination in ("control-plane", "etcd", "worker", "control-plane-vip")]


def test_a_duplicated_object_breaks_the_economy() -> None:
    planned = plan_stack("nutanix-example")
    from tests.helpers import example_args

    regs = _registrations(planned)
    extra = next(r for r in regs if r["type"].endswith("ServiceGroupsV2"))
    e = economy("nutanix", example_args("nutanix-example"), [*regs, {**extra, "name": "copy", "urn": "urn:copy"}])
    assert e.worst > 1.0


def test_floor_maps_type_tokens_and_names_to_the_provider_sdks() -> None:
    assert sdk_class("aws:ec2/securityGroup:SecurityGroup").__name__ == "SecurityGroup"  # type: ignore[union-attr]
    assert sdk_class("pulumi:providers:aws").__module__.startswith("pulumi_aws")  # type: ignore[union-attr]
    assert sdk_class("eksa-firewall:index:AwsFirewall") is None
    assert _camel("referenced_security_group_id") == "referencedSecurityGroupId"
    assert _snake("isIpv6TrafficAllowed") == "is_ipv6_traffic_allowed"
    assert sdk_modules({"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "pulumi:providers:aws"}, "pulumi_aws") == [
        "pulumi_aws",
        "pulumi_aws.vpc",
    ]
