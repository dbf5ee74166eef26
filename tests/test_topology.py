"""Bad input: one clear error naming the config key and the fix, before any resource is registered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.engine import Registration
from components.errors import ConfigError
from components.topology import parse_topology
from tests.environments import edit_cluster, edit_worker_group, environment
from tests.helpers import plan_config

Config = dict[str, Any]


def base() -> Config:
    """The vSphere base environment (tests/environments.py), its workload cluster named ``dev``."""
    return edit_cluster(environment("vsphere"), "prod", name="dev")


def edit(fn: Callable[[Config], object]) -> Config:
    """``fn`` applied to a fresh copy of the base: each case below breaks one thing in place."""
    cfg = base()
    fn(cfg)
    return cfg


def cp(cfg: Config, i: int = 0) -> dict[str, Any]:
    return cfg["clusters"][i]["controlPlane"]


# (case id, config edit, the key the message must name, words of the message, words of the fix)
BAD: list[tuple[str, Callable[[Config], object], str, str, str]] = [
    ("missing platform", lambda c: c.pop("platform"), "eksa-firewall:platform", "is required", "set eksa-firewall:platform"),
    (
        "unknown platform",
        lambda c: c.update(platform="bare-metal"),
        "eksa-firewall:platform",
        "'bare-metal' is not one of",
        "did you mean 'baremetal'",
    ),
    ("no clusters", lambda c: c.update(clusters=[]), "eksa-firewall:clusters", "must not be empty", "at least one"),
    ("clusters not a list", lambda c: c.update(clusters={"name": "x"}), "eksa-firewall:clusters", "must be a list", "YAML list"),
    (
        "duplicate cluster",
        lambda c: c["clusters"][1].update(name="mgmt"),
        "eksa-firewall:clusters[1].name",
        "already defined",
        "its own name",
    ),
    (
        "bad cluster name",
        lambda c: c["clusters"][0].update(name="Mgmt_1"),
        "eksa-firewall:clusters[0].name",
        "not a valid name",
        "lower-case",
    ),
    (
        "invalid CIDR",
        lambda c: cp(c).update(addresses=["10.10.1.0/33"]),
        "eksa-firewall:clusters[0].controlPlane.addresses[0]",
        "is not an IP address or CIDR",
        "10.0.0.0/24",
    ),
    (
        "host bits set",
        lambda c: cp(c).update(addresses=["10.10.1.5/24"]),
        "eksa-firewall:clusters[0].controlPlane.addresses[0]",
        "host bits set",
        "10.10.1.0/24 for the whole subnet, or 10.10.1.5/32",
    ),
    (
        "role without addresses",
        lambda c: cp(c).pop("addresses"),
        "eksa-firewall:clusters[0].controlPlane.addresses",
        "lists no address",
        "list the role's IPs",
    ),
    (
        "worker group without addresses",
        lambda c: c["clusters"][0]["workerGroups"][0].update(addresses=[]),
        "eksa-firewall:clusters[0].workerGroups[0].addresses",
        "lists no address",
        "IP pool",
    ),
    (
        "duplicate worker group",
        lambda c: c["clusters"][0]["workerGroups"].append({"name": "md-0", "addresses": ["10.10.3.0/24"]}),
        "eksa-firewall:clusters[0].workerGroups[1].name",
        "defined twice",
        "its own name",
    ),
    (
        "external etcd without addresses",
        lambda c: c["clusters"][1]["etcd"].pop("addresses"),
        "eksa-firewall:clusters[1].etcd.addresses",
        "lists no address",
        "list the role's IPs",
    ),
    (
        "stacked etcd with addresses",
        lambda c: c["clusters"][1]["etcd"].update(external=False),
        "eksa-firewall:clusters[1].etcd",
        "stacked on the control plane",
        "external: true",
    ),
    (
        "port out of range",
        lambda c: c["clusters"][1]["etcd"].update(clientPort=70000),
        "eksa-firewall:clusters[1].etcd.clientPort",
        "not a port between 1 and 65535",
        "such as 2379",
    ),
    (
        "same etcd ports",
        lambda c: c["clusters"][1]["etcd"].update(clientPort=2380),
        "eksa-firewall:clusters[1].etcd.peerPort",
        "equals clientPort",
        "two ports",
    ),
    (
        "API server port",
        lambda c: cp(c).update(apiServerPort=8443),
        "eksa-firewall:clusters[0].controlPlane.apiServerPort",
        "not a port EKS-A serves the API on",
        "6443 (default) or 443",
    ),
    (
        "VIP is a subnet",
        lambda c: cp(c).update(endpoint="10.10.1.0/24"),
        "eksa-firewall:clusters[0].controlPlane.endpoint",
        "is a range, not one address",
        "single IP address",
    ),
    ("VIP missing", lambda c: cp(c).pop("endpoint"), "eksa-firewall:clusters[0].controlPlane.endpoint", "is required", "IP address"),
    (
        "etcd opened to the Internet",
        lambda c: c.update(adminMachine={"addresses": ["0.0.0.0/0"]}),
        "eksa-firewall:adminMachine.addresses",
        "of the IPv4 Internet",
        "never be reachable from 0.0.0.0/0",
    ),
    (
        "etcd opened to the Internet in two halves",
        lambda c: c.update(adminMachine={"addresses": ["0.0.0.0/1", "128.0.0.0/1"]}),
        "eksa-firewall:adminMachine.addresses",
        "of the IPv4 Internet",
        "ranges that add up to them",
    ),
    (
        "kubelet opened to the Internet",
        lambda c: cp(c).update(addresses=["::/0"]),
        "eksa-firewall:clusters[0].controlPlane.addresses",
        "Kubelet API",
        "never be reachable",
    ),
    (
        "SSH from anywhere",
        lambda c: c["clients"].update(ssh=["10.99.0.0/24", "0.0.0.0/0"]),
        "eksa-firewall:clients.ssh[1]",
        "IPv4 Internet",
        "allowSshFromAnywhere: true",
    ),
    (
        "SSH from anywhere in two halves",
        lambda c: c["clients"].update(ssh=["0.0.0.0/1", "128.0.0.0/1"]),
        "eksa-firewall:clients.ssh",
        "ranges together cover more than 1/16",
        "allowSshFromAnywhere: true",
    ),
    (
        "a duplicate after an invalid entry is named by its written index",
        lambda c: c["clients"].update(ssh=["not-an-address", "10.99.0.0/24", "10.99.0.0/24"]),
        "eksa-firewall:clients.ssh[2]",
        "listed twice (also at eksa-firewall:clients.ssh[1])",
        "remove the duplicate",
    ),
    (
        "an IPv6 zone id cannot reach a rule",
        lambda c: cp(c).update(addresses=["fe80::1%x\nflush ruleset\ntable inet evil {}"]),
        "eksa-firewall:clusters[0].controlPlane.addresses[0]",
        "has an IPv6 zone id",
        "without its zone",
    ),
    (
        "a zone id on the VIP",
        lambda c: cp(c).update(endpoint="fe80::1%eth0"),
        "eksa-firewall:clusters[0].controlPlane.endpoint",
        "has an IPv6 zone id",
        "'fe80::1'",
    ),
    (
        "a control plane inside a worker range",
        lambda c: cp(c).update(addresses=["10.10.2.0/26"]),
        "eksa-firewall:clusters[0].workerGroups[0].addresses",
        "overlaps 10.10.2.0/26 of eksa-firewall:clusters[0].controlPlane.addresses (mgmt control-plane)",
        "allowOverlappingRoles: true",
    ),
    (
        "a VIP inside a worker range",
        lambda c: cp(c).update(endpoint="10.10.2.7"),
        "eksa-firewall:clusters[0].controlPlane.endpoint",
        "overlaps 10.10.2.0/24 of eksa-firewall:clusters[0].workerGroups[0].addresses (mgmt worker)",
        "give each its own addresses",
    ),
    (
        "a Jenkins server inside a control-plane range",
        lambda c: c.update(managementTools={"jenkins": {"address": "10.10.1.7", "clients": ["10.99.0.0/24"]}}),
        "eksa-firewall:managementTools.jenkins.address",
        "overlaps 10.10.1.0/26 of eksa-firewall:clusters[0].controlPlane.addresses (mgmt control-plane)",
        "allowOverlappingRoles: true",
    ),
    (
        "two clusters with the same addresses",
        lambda c: c["clusters"][1]["controlPlane"].update(addresses=["10.10.1.0/26"]),
        "eksa-firewall:clusters[0].controlPlane.addresses",
        "overlaps 10.10.1.0/26 of eksa-firewall:clusters[1].controlPlane.addresses (dev control-plane)",
        "allowOverlappingRoles: true",
    ),
    (
        "typo in a key",
        lambda c: c["clusters"][0].update(controlplane=c["clusters"][0].pop("controlPlane")),
        "eksa-firewall:clusters[0].controlplane",
        "not a known key",
        "did you mean 'controlPlane'",
    ),
    (
        "selectors are not a key (no platform reads them)",
        lambda c: cp(c).update(selectors={"role": "cp"}),
        "eksa-firewall:clusters[0].controlPlane.selectors",
        "not a known key",
        "remove it",
    ),
    ("typo at top level", lambda c: c.update(client=c.pop("clients")), "eksa-firewall:client", "not a known key", "did you mean 'clients'"),
    (
        "unknown EKS-A version",
        lambda c: c.update(eksaVersion="v0.99"),
        "eksa-firewall:eksaVersion",
        "newer than the newest release",
        "upgrade eksa-firewall",
    ),
    (
        "malformed EKS-A version",
        lambda c: c.update(eksaVersion="zero"),
        "eksa-firewall:eksaVersion",
        "not an EKS Anywhere version",
        "such as v0.24",
    ),
    (
        "admin machine missing",
        lambda c: c.pop("adminMachine"),
        "eksa-firewall:adminMachine",
        "is required",
        "add eksa-firewall:adminMachine",
    ),
    (
        "vCenter missing",
        lambda c: c.pop("endpoints"),
        "eksa-firewall:endpoints.vcenter",
        "is required on vsphere",
        "vCenter Server address",
    ),
    (
        "managedBy unknown",
        lambda c: c["clusters"][1].update(managedBy="prod"),
        "eksa-firewall:clusters[1].managedBy",
        "names no cluster",
        "one of dev, mgmt",
    ),
    (
        "managedBy chain",
        lambda c: c["clusters"].append(
            {"name": "qa", "managedBy": "dev", "controlPlane": {"endpoint": "10.12.1.1", "addresses": ["10.12.1.0/26"]}}
        ),
        "eksa-firewall:clusters[2].managedBy",
        "itself managed",
        "self-managed",
    ),
    (
        "jenkins without clients",
        lambda c: c.update(managementTools={"jenkins": {"address": "10.30.0.10"}}),
        "eksa-firewall:managementTools.jenkins.clients",
        "is required",
        "as a list",
    ),
    ("boolean expected", lambda c: c.update(cilium="yes"), "eksa-firewall:cilium", "must be true or false", "true or false"),
    (
        "duplicate address",
        lambda c: c["clients"].update(api=["10.20.0.0/16", "10.20.0.0/16"]),
        "eksa-firewall:clients.api[1]",
        "listed twice",
        "remove the duplicate",
    ),
    (
        "wrong platform section",
        lambda c: c.update(nutanix={"state": "ENFORCE"}),
        "eksa-firewall:nutanix",
        "another platform",
        "remove eksa-firewall:nutanix",
    ),
    (
        "hardware CSV off bare metal",
        lambda c: c.update(hardwareCsv="stacks/missing.csv"),
        "eksa-firewall:hardwareCsv",
        "cannot read",
        "path of the hardware CSV",
    ),
]


@pytest.mark.parametrize(("case", "change", "key", "message", "fix"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_before_anything_is_registered(
    case: str, change: Callable[[Config], object], key: str, message: str, fix: str
) -> None:
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
    # three problems planted (and the vsphere section taken out: with the platform unknown, it would be a fourth)
    cfg = edit(
        lambda c: (c.update(platform="vmware"), cp(c).update(addresses=["bad"]), c["clients"].update(ssh=["0.0.0.0/0"]), c.pop("vsphere"))
    )
    with pytest.raises(ConfigError) as err:
        parse_topology(cfg, key_prefix="eksa-firewall:")
    keys = {p.key for p in err.value.problems}
    assert {"eksa-firewall:platform", "eksa-firewall:clusters[0].controlPlane.addresses[0]", "eksa-firewall:clients.ssh[0]"} <= keys
    assert "3 problems" in str(err.value)


def test_the_base_config_is_valid_and_canonical() -> None:
    t = parse_topology(base())
    assert [c.name for c in t.clusters] == ["dev", "mgmt"]  # sorted: the order written never matters
    dev = t.cluster("dev")
    assert dev.external_etcd is not None
    assert (dev.etcd_client_port, dev.etcd_peer_port, dev.api_server_port) == (2379, 2380, 6443)
    assert t.eksa_version == (0, 26)
    assert t.cilium is True


def test_ssh_from_anywhere_with_explicit_opt_in() -> None:
    t = parse_topology(edit(lambda c: (c["clients"].update(ssh=["0.0.0.0/0"]), c.update(allowSshFromAnywhere=True))))
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
    cfg = base()
    cfg["vsphere"] = {"nsx": {"bogusKey": 1}}
    recorded: list[Registration] = []
    with pytest.raises(ConfigError) as err:
        plan_config(cfg, recorded=recorded)
    assert all(p.key.startswith("eksa-firewall:vsphere") for p in err.value.problems), [str(p) for p in err.value.problems]
    assert recorded == []


def test_a_zone_id_in_the_hardware_csv_is_refused_with_its_line(tmp_path) -> None:
    csv = tmp_path / "hardware.csv"
    csv.write_text(
        "hostname,bmc_ip,mac,ip_address,netmask,gateway,nameservers,labels,disk\n"
        'cp1,198.51.100.101,CC:48:3A:00:00:01,"fe80::1%x\nflush ruleset",64,,,type=cp,/dev/sda\n',
        encoding="utf-8",
    )
    cfg = {
        "platform": "baremetal",
        "adminMachine": {"addresses": ["198.51.100.5"]},
        "endpoints": {"tinkerbellIp": "198.51.100.50"},
        "hardwareCsv": str(csv),
        "clusters": [{"name": "mgmt", "controlPlane": {"endpoint": "198.51.100.60", "hardwareSelector": {"type": "cp"}}}],
    }
    with pytest.raises(ConfigError) as err:
        parse_topology(cfg)
    keys = {p.key: p for p in err.value.problems}
    assert "zone id" in keys["hardwareCsv.line 2.ip_address"].message


def test_overlapping_roles_are_allowed_when_stated_and_a_vip_may_sit_in_its_control_plane_range() -> None:
    shared = parse_topology(edit(lambda c: (cp(c).update(addresses=["10.10.2.0/26"]), c.update(allowOverlappingRoles=True))))
    assert [str(n) for n in shared.cluster("mgmt").control_plane.addresses] == ["10.10.2.0/26"]
    parse_topology(edit(lambda c: cp(c).update(endpoint="10.10.1.7")))  # the VIP inside its own control plane's range: fine


def test_roles_and_their_machines() -> None:
    """One definition: stacked etcd is the control plane's machines; a managing cluster is its Kubernetes nodes."""
    cfg = base()
    cfg["clusters"].append({"name": "edge", "controlPlane": {"endpoint": "10.12.1.100", "addresses": ["10.12.1.0/26"]}})
    mgmt, dev, edge = (parse_topology(cfg).cluster(n) for n in ("mgmt", "dev", "edge"))
    assert (mgmt.roles, dev.roles, edge.roles) == (("control-plane", "worker"), ("control-plane", "etcd", "worker"), ("control-plane",))
    assert [c.kubernetes_roles for c in (mgmt, dev, edge)] == [("control-plane", "worker"), ("control-plane", "worker"), ("control-plane",)]
    assert (mgmt.machine_role("etcd"), dev.machine_role("etcd"), mgmt.machine_role("worker")) == ("control-plane", "etcd", "worker")
    assert [str(n) for n in mgmt.addresses_of("etcd")] == ["10.10.1.0/26"] == [str(n) for n in mgmt.addresses_of("control-plane")]
    assert [str(n) for n in dev.addresses_of("etcd")] == ["10.11.3.0/28"] and dev.etcd == dev.addresses_of("etcd")
    assert edge.addresses_of("worker") == ()
