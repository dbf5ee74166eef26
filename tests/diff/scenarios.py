"""Plan documents for the diff and mermaid tests, built from the foundation (topology -> flows).

The flows are the real ``build_flows`` output for a small environment. The resources stand in for a
platform backend: an AWS-style rendering (one security group per cluster role, one
``aws.vpc.SecurityGroupIngressRule`` per flow, source address and port range), enough to exercise
create/update/replace/delete and Internet exposure with real provider type tokens and engine names.
``write_fixtures`` keeps tests/fixtures/plans/ equal to what these builders make.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from components.cli.plan import environment_fields
from components.flows import NODE_ROLES, build_flows, endpoint_addresses
from components.topology import parse_topology

PLAN_SCHEMA = "eksa-firewall/plan/v1"
PROJECT = "eksa-firewall"
FIXTURE_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "plans"
COMPONENT = "eksa-firewall:index:AwsFirewall"

BASE_CONFIG: dict[str, Any] = {
    "platform": "snow",
    "adminMachine": {"addresses": ["10.0.0.5/32"]},
    "clients": {"api": ["10.1.0.0/16", "10.5.0.0/16"], "ssh": ["10.2.0.0/24"]},
    "endpoints": {"snowDevices": [{"name": "snow-1", "address": "10.0.0.20"}]},
    "clusters": [
        {
            "name": "mgmt",
            "controlPlane": {"endpoint": "10.0.1.100", "addresses": ["10.0.1.0/28"]},
            "workerGroups": [{"name": "md-0", "addresses": ["10.0.2.0/24"]}],
        }
    ],
}


def _urn(stack: str, type_: str, name: str, parent_type: str | None = COMPONENT) -> str:
    chain = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:{stack}::{PROJECT}::{chain}::{name}"


def plan_from_config(config: Mapping[str, Any], *, stack: str = "aws-region-example", vpc: str = "vpc-0a1b2c3d") -> dict[str, Any]:
    """A plan document: the foundation's flows for ``config`` and AWS-style resources rendering them."""
    topology = parse_topology(config)
    flows = build_flows(topology)
    component_urn = _urn(stack, COMPONENT, "eksa", None)
    resources: list[dict[str, Any]] = [{"urn": component_urn, "type": COMPONENT, "name": "eksa", "id": None, "parent": None, "inputs": {}}]

    def add(type_: str, name: str, inputs: dict[str, Any]) -> None:
        resources.append(
            {"urn": _urn(stack, type_, name), "type": type_, "name": name, "id": f"id-{name}", "parent": component_urn, "inputs": inputs}
        )

    for cluster in topology.clusters:
        roles = sorted({f.destination for f in flows.for_cluster(cluster.name) if f.destination in NODE_ROLES})
        for role in roles:
            add("aws:ec2/securityGroup:SecurityGroup", f"eksa-{cluster.name}-{role}", {
                "name": f"eksa-{cluster.name}-{role}", "description": f"EKS-A {cluster.name} {role} nodes", "vpcId": vpc,
                "egress": [{"cidrBlocks": ["0.0.0.0/0"], "fromPort": 0, "protocol": "-1", "toPort": 0}],
                "tags": {"eksa:cluster": cluster.name, "eksa:role": role},
            })  # fmt: skip
        for f in flows.for_cluster(cluster.name):
            if f.destination not in NODE_ROLES:
                continue
            group = f"id-eksa-{cluster.name}-{f.destination}"
            for r in f.ports:
                ports = {"fromPort": r.lo, "toPort": r.hi} if f.protocol != "icmp" else {"fromPort": r.lo, "toPort": -1}
                base = {"securityGroupId": group, "ipProtocol": f.protocol, **ports, "description": ", ".join(f.rows)}
                key = f"{cluster.name}-{f.source}-{f.destination}-{f.protocol}-{r}"
                if f.source in NODE_ROLES:
                    add("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", f"eksa-{key}",
                        {**base, "referencedSecurityGroupId": f"id-eksa-{cluster.name}-{f.source}"})  # fmt: skip
                    continue
                for net in endpoint_addresses(topology, cluster, f.source):
                    cidr = "cidrIpv4" if net.version == 4 else "cidrIpv6"
                    add("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", f"eksa-{key}-{net}",
                        {**base, cidr: str(net)})  # fmt: skip
    return {
        "schema": PLAN_SCHEMA,
        "project": PROJECT,
        "stack": stack,
        "resources": resources,
        "outputs": {
            "platform": topology.platform,
            "securityGroups": sorted(r["name"] for r in resources if r["type"].endswith("SecurityGroup")),
        },
        "flows": [f.to_json() for f in flows.flows],
        "local_only": [x.to_json() for x in flows.local_only],
        **environment_fields(topology, flows),
    }


def _with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    config = copy.deepcopy(BASE_CONFIG)
    change(config)
    return config


def _ssh_range(c: dict[str, Any]) -> None:
    c["clients"]["ssh"].append("192.168.50.0/24")


def _api_range_removed(c: dict[str, Any]) -> None:
    c["clients"]["api"].remove("10.5.0.0/16")


def _worker_group(c: dict[str, Any]) -> None:
    c["clusters"][0]["workerGroups"].append({"name": "md-1", "addresses": ["10.0.5.0/24"]})


def _nodeport_clients(c: dict[str, Any]) -> None:
    c["clients"]["nodePort"] = ["10.6.0.0/16"]


def _api_server_port(c: dict[str, Any]) -> None:
    c["clusters"][0]["controlPlane"]["apiServerPort"] = 443


def _jenkins(c: dict[str, Any]) -> None:
    c["managementTools"] = {"jenkins": {"enabled": True, "address": "10.0.0.30", "clients": ["10.3.0.0/24"]}}


def _api_world(c: dict[str, Any]) -> None:
    c["clients"]["api"] = ["0.0.0.0/0", "::/0"]


def _no_workers(c: dict[str, Any]) -> None:
    del c["clusters"][0]["workerGroups"]


def _workload_cluster(c: dict[str, Any]) -> None:
    c["clusters"].append({
        "name": "prod-1", "managedBy": "mgmt",
        "controlPlane": {"endpoint": "10.0.3.100", "addresses": ["10.0.3.0/28"], "apiServerPort": 443},
        "workerGroups": [{"name": "md-0", "addresses": ["10.0.4.0/24"]}],
    })  # fmt: skip


def _edit_resources(doc: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for r in doc["resources"]:
        edit(r)
    return doc


def _move_vpc(r: dict[str, Any]) -> None:
    if r["type"] == "aws:ec2/securityGroup:SecurityGroup" and r["name"] == "eksa-mgmt-worker":
        r["inputs"]["description"] = "EKS-A mgmt worker nodes (md-0)"


def _retag(r: dict[str, Any]) -> None:
    if r["type"] == "aws:ec2/securityGroup:SecurityGroup":
        r["inputs"]["tags"] = {**r["inputs"]["tags"], "owner": "platform-team"}


def _rename(r: dict[str, Any]) -> None:
    if r["name"] == "eksa-mgmt-admin-machine-control-plane-tcp-6443-10.0.0.5/32":
        r["name"] = "eksa-mgmt-admin-to-cp-6443"
        r["urn"] = r["urn"].rsplit("::", 1)[0] + "::" + r["name"]


def _hand_made_world_ssh(doc: dict[str, Any]) -> dict[str, Any]:
    """A rule added by hand in a larger stack: SSH from anywhere (not a flow the catalog asks for)."""
    doc = copy.deepcopy(doc)
    doc["resources"].append({
        "urn": _urn(doc["stack"], "aws:ec2/securityGroupRule:SecurityGroupRule", "debug-ssh", None),
        "type": "aws:ec2/securityGroupRule:SecurityGroupRule", "name": "debug-ssh", "id": "sgrule-1", "parent": None,
        "inputs": {"type": "ingress", "securityGroupId": "id-eksa-mgmt-worker", "protocol": "tcp", "fromPort": 22, "toPort": 22,
                   "cidrBlocks": ["0.0.0.0/0"]},
    })  # fmt: skip
    return doc


def scenarios() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """name -> (base plan, head plan): each differs by one known change."""
    base = plan_from_config(BASE_CONFIG)
    return {
        "no-change": (base, copy.deepcopy(base)),
        "ssh-range-added": (base, plan_from_config(_with(_ssh_range))),
        "api-range-removed": (base, plan_from_config(_with(_api_range_removed))),
        "worker-group-added": (base, plan_from_config(_with(_worker_group))),
        "nodeport-clients-added": (base, plan_from_config(_with(_nodeport_clients))),
        "api-server-port-changed": (base, plan_from_config(_with(_api_server_port))),
        "jenkins-enabled": (base, plan_from_config(_with(_jenkins))),
        "api-open-to-internet": (base, plan_from_config(_with(_api_world))),
        "workers-removed": (base, plan_from_config(_with(_no_workers))),
        "workload-cluster-added": (base, plan_from_config(_with(_workload_cluster))),
        "security-group-description-changed": (base, _edit_resources(base, _move_vpc)),
        "security-group-tags-changed": (base, _edit_resources(base, _retag)),
        "rule-renamed": (base, _edit_resources(base, _rename)),
        "hand-made-ssh-from-anywhere": (base, _hand_made_world_ssh(base)),
    }


# Heads whose whole plan is also drawn as a golden diagram.
SCENARIO_HEADS = ("jenkins-enabled", "workload-cluster-added")


def fixture_paths(name: str) -> tuple[Path, Path]:
    """Every scenario starts from the same base plan; the head is the scenario's."""
    return FIXTURE_DIR / "base.json", FIXTURE_DIR / f"{name}.json"


def dump(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=False) + "\n"
