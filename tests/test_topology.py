"""Bad input: one clear error naming the config key and the fix, before any resource is registered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.engine import Registration
from components.errors import ConfigError
from components.topology import parse_topology
from tests.environments import (
    Environment,
    add_cluster,
    add_worker_group,
    cluster,
    cluster_config,
    edit_cluster,
    edit_worker_group,
    environment,
    merge,
)
from tests.helpers import plan_config

Edit = Callable[[Environment], Environment]


def patch(**overrides: Any) -> Edit:
    return lambda env: merge(env, overrides)


def edit(change: Edit) -> Environment:
    return change(environment("vsphere"))


def edit_mgmt_cp(**cp: Any) -> Edit:
    return lambda env: edit_cluster(env, "mgmt", controlPlane=cp)


# (case id, config edit, the key the message must name, words of the message, words of the fix)
BAD: list[tuple[str, Edit, str, str, str]] = [
    ("missing platform", patch(platform=None), "eksa-firewall:platform", "is required", "set eksa-firewall:platform"),
    ("unknown platform", patch(platform="bare-metal"), "eksa-firewall:platform", "'bare-metal' is not one of", "did you mean 'baremetal'"),
    ("no clusters", patch(clusters=[]), "eksa-firewall:clusters", "must not be empty", "at least one"),
    ("clusters not a list", patch(clusters={"name": "x"}), "eksa-firewall:clusters", "must be a list", "YAML list"),
    (
        "duplicate cluster",
        lambda e: edit_cluster(e, "prod", name="mgmt"),
        "eksa-firewall:clusters[1].name",
        "already defined",
        "its own name",
    ),
    (
        "bad cluster name",
        lambda e: edit_cluster(e, "mgmt", name="Mgmt_1"),
        "eksa-firewall:clusters[0].name",
        "not a valid name",
        "lower-case",
    ),
    (
        "invalid CIDR",
        edit_mgmt_cp(addresses=["10.10.1.0/33"]),
        "eksa-firewall:clusters[0].controlPlane.addresses[0]",
        "not a valid IP address or CIDR",
        "10.0.0.0/24",
    ),
    (
        "host bits set",
        edit_mgmt_cp(addresses=["10.10.1.5/24"]),
        "eksa-firewall:clusters[0].controlPlane.addresses[0]",
        "host bits set",
        "10.10.1.0/24 for the whole subnet, or 10.10.1.5/32",
    ),
    (
        "role without addresses",
        edit_mgmt_cp(addresses=None),
        "eksa-firewall:clusters[0].controlPlane.addresses",
        "lists no address",
        "list the role's IPs",
    ),
    (
        "worker group without addresses",
        lambda e: edit_worker_group(e, "mgmt", "md-0", addresses=[]),
        "eksa-firewall:clusters[0].workerGroups[0].addresses",
        "lists no address",
        "IP pool",
    ),
    (
        "duplicate worker group",
        lambda e: add_worker_group(e, "mgmt", {"name": "md-0", "addresses": ["10.10.3.0/24"]}),
        "eksa-firewall:clusters[0].workerGroups[1].name",
        "defined twice",
        "its own name",
    ),
    (
        "external etcd without addresses",
        lambda e: edit_cluster(e, "prod", etcd={"addresses": None}),
        "eksa-firewall:clusters[1].etcd.addresses",
        "lists no address",
        "list the role's IPs",
    ),
    (
        "stacked etcd with addresses",
        lambda e: edit_cluster(e, "prod", etcd={"external": False}),
        "eksa-firewall:clusters[1].etcd",
        "stacked on the control plane",
        "external: true",
    ),
    (
        "port out of range",
        lambda e: edit_cluster(e, "prod", etcd={"clientPort": 70000}),
        "eksa-firewall:clusters[1].etcd.clientPort",
        "not a port between 1 and 65535",
        "such as 2379",
    ),
    (
        "same etcd ports",
        lambda e: edit_cluster(e, "prod", etcd={"clientPort": 2380}),
        "eksa-firewall:clusters[1].etcd.peerPort",
        "equals clientPort",
        "two ports",
    ),
    (
        "API server port",
        edit_mgmt_cp(apiServerPort=8443),
        "eksa-firewall:clusters[0].controlPlane.apiServerPort",
        "not a port EKS-A serves the API on",
        "6443 (default) or 443",
    ),
    (
        "VIP is a subnet",
        edit_mgmt_cp(endpoint="10.10.1.0/24"),
        "eksa-firewall:clusters[0].controlPlane.endpoint",
        "is a range, not one address",
        "single IP address",
    ),
    ("VIP missing", edit_mgmt_cp(endpoint=None), "eksa-firewall:clusters[0].controlPlane.endpoint", "is required", "IP address"),
    (
        "etcd opened to the Internet",
        patch(adminMachine={"addresses": ["0.0.0.0/0"]}),
        "eksa-firewall:adminMachine.addresses",
        "whole address family",
        "never be reachable from 0.0.0.0/0",
    ),
    (
        "kubelet opened to the Internet",
        edit_mgmt_cp(addresses=["::/0"]),
        "eksa-firewall:clusters[0].controlPlane.addresses",
        "Kubelet API",
        "never be reachable",
    ),
    (
        "SSH from anywhere",
        patch(clients={"ssh": ["0.0.0.0/0"]}),
        "eksa-firewall:clients.ssh[0]",
        "whole Internet",
        "allowSshFromAnywhere: true",
    ),
    (
        "typo in a key",
        lambda e: edit_cluster(e, "mgmt", controlPlane=None, controlplane=cluster(e, "mgmt")["controlPlane"]),
        "eksa-firewall:clusters[0].controlplane",
        "not a known key",
        "did you mean 'controlPlane'",
    ),
    (
        "typo at top level",
        lambda e: merge(e, {"clients": None, "client": e["clients"]}),
        "eksa-firewall:client",
        "not a known key",
        "did you mean 'clients'",
    ),
    (
        "unknown EKS-A version",
        patch(eksaVersion="v0.99"),
        "eksa-firewall:eksaVersion",
        "newer than the newest release",
        "upgrade eksa-firewall",
    ),
    (
        "malformed EKS-A version",
        patch(eksaVersion="zero"),
        "eksa-firewall:eksaVersion",
        "not an EKS Anywhere version",
        "such as v0.24",
    ),
    ("admin machine missing", patch(adminMachine=None), "eksa-firewall:adminMachine", "is required", "add eksa-firewall:adminMachine"),
    ("vCenter missing", patch(endpoints=None), "eksa-firewall:endpoints.vcenter", "is required on vsphere", "vCenter Server address"),
    (
        "managedBy unknown",
        lambda e: edit_cluster(e, "prod", managedBy="qa"),
        "eksa-firewall:clusters[1].managedBy",
        "names no cluster",
        "one of mgmt, prod",
    ),
    (
        "managedBy chain",
        lambda e: add_cluster(e, cluster_config("qa", 2, managed_by="prod", worker_groups=())),
        "eksa-firewall:clusters[2].managedBy",
        "itself managed",
        "self-managed",
    ),
    (
        "jenkins without clients",
        patch(managementTools={"jenkins": {"address": "10.30.0.10"}}),
        "eksa-firewall:managementTools.jenkins.clients",
        "is required",
        "as a list",
    ),
    ("boolean expected", patch(cilium="yes"), "eksa-firewall:cilium", "must be true or false", "true or false"),
    (
        "duplicate address",
        patch(clients={"api": ["10.20.0.0/16", "10.20.0.0/16"]}),
        "eksa-firewall:clients.api[1]",
        "listed twice",
        "remove the duplicate",
    ),
    (
        "wrong platform section",
        patch(nutanix={"state": "ENFORCE"}),
        "eksa-firewall:nutanix",
        "another platform",
        "remove eksa-firewall:nutanix",
    ),
    (
        "hardware CSV off bare metal",
        patch(hardwareCsv="stacks/missing.csv"),
        "eksa-firewall:hardwareCsv",
        "cannot read",
        "path of the hardware CSV",
    ),
]


@pytest.mark.parametrize(("case", "change", "key", "message", "fix"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_before_anything_is_registered(case: str, change: Edit, key: str, message: str, fix: str) -> None:
    recorded: list[Registration] = []
    with pytest.raises(ConfigError) as err:
        plan_config(edit(change), recorded=recorded)
    problems = [p for p in err.value.problems if p.key == key]
    assert problems, f"{case}: no problem names {key}; got {[str(p) for p in err.value.problems]}"
    assert any(message in p.message and fix in p.fix for p in problems), [str(p) for p in problems]
    assert recorded == [], f"{case}: resources were registered before the error"


def test_there_are_at_least_twenty_distinct_bad_inputs() -> None:
    assert len({b[0] for b in BAD}) >= 20


def test_every_problem_is_reported_at_once() -> None:
    # three problems planted (the vsphere section removed: with the platform unknown it would be a fourth)
    three = {"platform": "vmware", "clients": {"ssh": ["0.0.0.0/0"]}, "vsphere": None}
    cfg = edit(lambda e: edit_cluster(merge(e, three), "mgmt", controlPlane={"addresses": ["bad"]}))
    with pytest.raises(ConfigError) as err:
        parse_topology(cfg, key_prefix="eksa-firewall:")
    keys = {p.key for p in err.value.problems}
    assert {"eksa-firewall:platform", "eksa-firewall:clusters[0].controlPlane.addresses[0]", "eksa-firewall:clients.ssh[0]"} <= keys
    assert "3 problems" in str(err.value)


def test_the_base_config_is_valid_and_canonical() -> None:
    env = environment("vsphere")
    env["clusters"].reverse()  # written prod first: the order written never matters
    t = parse_topology(env)
    assert [c.name for c in t.clusters] == ["mgmt", "prod"]  # sorted
    prod = t.cluster("prod")
    assert prod.external_etcd is not None
    assert (prod.etcd_client_port, prod.etcd_peer_port, prod.api_server_port) == (2379, 2380, 6443)
    assert t.eksa_version == (0, 26)
    assert t.cilium is True


def test_ssh_from_anywhere_with_explicit_opt_in() -> None:
    t = parse_topology(environment("vsphere", clients={"ssh": ["0.0.0.0/0"]}, allowSshFromAnywhere=True))
    assert str(t.clients.ssh[0]) == "0.0.0.0/0"


def test_hardware_csv_gives_addresses_and_bmcs_without_credentials(tmp_path) -> None:
    csv = tmp_path / "hardware.csv"
    csv.write_text(
        "hostname,bmc_ip,bmc_username,bmc_password,mac,ip_address,netmask,gateway,nameservers,labels,disk\n"
        "cp1,198.51.100.101,root,S3cretPw!,CC:48:3A:00:00:01,198.51.100.11,255.255.255.0,198.51.100.1,8.8.8.8,type=cp,/dev/sda\n"
        "w1,198.51.100.102,root,0therPw!,CC:48:3A:00:00:02,198.51.100.21,255.255.255.0,198.51.100.1,8.8.8.8,type=worker,/dev/sda\n",
        encoding="utf-8",
    )
    cfg = environment(
        "baremetal",
        hardwareCsv=str(csv),
        endpoints={"bmcs": None},  # the BMCs come from the CSV
        clusters=[
            {
                "name": "mgmt",
                "controlPlane": {"endpoint": "198.51.100.60", "hardwareSelector": {"type": "cp"}},
                "workerGroups": [{"name": "md-0", "hardwareSelector": {"type": "worker"}}],
            }
        ],
    )
    t = parse_topology(cfg)
    mgmt = t.cluster("mgmt")
    assert [str(a) for a in mgmt.control_plane.addresses] == ["198.51.100.11/32"]
    assert [str(a) for a in mgmt.workers] == ["198.51.100.21/32"]
    assert [(b.name, str(b.address)) for b in t.endpoints.bmcs] == [("cp1", "198.51.100.101/32"), ("w1", "198.51.100.102/32")]
    assert "S3cretPw" not in repr(t) and "0therPw" not in repr(t)

    cfg = edit_worker_group(cfg, "mgmt", "md-0", hardwareSelector={"type": "wrker"})
    with pytest.raises(ConfigError, match="matches no machine in the hardware CSV"):
        parse_topology(cfg)


def test_platform_settings_errors_name_the_stack_key() -> None:
    cfg = environment("vsphere")
    cfg["vsphere"] = {"nsx": {"bogusKey": 1}}  # the whole section replaced
    recorded: list[Registration] = []
    with pytest.raises(ConfigError) as err:
        plan_config(cfg, recorded=recorded)
    assert all(p.key.startswith("eksa-firewall:vsphere") for p in err.value.problems), [str(p) for p in err.value.problems]
    assert recorded == []
