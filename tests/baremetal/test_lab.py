"""Real packets: the rendered rulesets loaded with the real `nft` in network namespaces (tests/baremetal/lab.py).

For the example stack (metrics-server enabled), its external-etcd variant and a variant without add-ons: every
required flow connects (TCP: the echo comes back), is delivered (UDP: the echo comes back; DHCP from 0.0.0.0:
the listener logged it) or answers (ICMP echo), and every probe of a grid of non-required (source, destination,
port) combinations is blocked. The pods behind the nodes are in both: a flow from ``pods-on-node`` is probed from
the pod on the destination node, and a pod's probe of another node is judged by what that node sees of it, its
node's address (masquerade). The lab tier (marked ``lab``): needs root, `ip` and `nft`, and without them these tests fail with the
reason (CI runs as root and installs both); ``pytest -m "not lab"`` leaves them out.
"""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from components.flows import Access, expand
from components.ports import PortRange
from tests.baremetal.common import example_config, external_etcd_config, plan, registered_rulesets
from tests.baremetal.lab import PROJECT_DIR, Host, Lab, build_hosts
from tests.helpers import PROJECT, Planned

pytestmark = pytest.mark.lab

# Ports probed on every protected machine besides the required ones: the brief's sensitive ports
# (controller-manager, scheduler, etcd, kubelet, SSH) and every port of the bare-metal and Cilium rows.
SAMPLE_TCP = (22, 80, 443, 623, 2379, 2380, 4240, 6443, 7171, 7172, 8080, 10250, 10257, 10259, 30000, 32767, 42113, 50061)
SAMPLE_UDP = (67, 69, 514, 623, 6081)
TIMEOUT = 1.0  # seconds per probe; a required probe that fails is retried once with RETRY_TIMEOUT
RETRY_TIMEOUT = 3.0
# A blocked probe waits for its whole timeout; a leak would answer within milliseconds.
BLOCKED_TIMEOUT = 0.5
PASS = {"tcp": ("open",), "udp": ("answered",), "icmp": ("echo reply",)}


def _ends(r: PortRange) -> list[int]:
    return sorted({r.lo, r.hi})


def _lab_address(lab: Lab, net: Any, *, pods: bool = False) -> tuple[Host, str] | None:
    """A lab machine (with ``pods``: a pod) with an address inside ``net`` (the machine itself for a /32)."""
    for h in lab.hosts:
        if (h.role == "pod") != pods:
            continue
        for a in h.addresses:
            if a.version == net.version and a.subnet_of(net):
                return h, str(a.network_address)
    return None


def _pod_source(lab: Lab, flow_source: str, destination: Host) -> tuple[Host, str] | None:
    """The pod a ``pods-on-node`` access is probed from: the one on the destination machine (a pod on another node
    would arrive masqueraded: that is the nodes' flow, not this one)."""
    if flow_source != "pods-on-node":
        return None
    pod = lab.pod_on(destination.name)
    assert pod is not None, f"the lab runs no pod on {destination.name}"
    return pod, str(pod.addresses[0].network_address)


def required_probes(lab: Lab, planned: Planned) -> dict[str, list[dict[str, Any]]]:
    batches: dict[str, list[dict[str, Any]]] = {h.name: [] for h in lab.hosts}
    pod_ranges = {c.pods for c in planned.topology.clusters}
    for a in sorted(expand(planned.topology, planned.flows.flows)):
        if a.source == ipaddress.ip_network("0.0.0.0/32"):
            continue  # DHCPDISCOVER: test_dhcp_broadcast_from_unaddressed_machine
        dst = _lab_address(lab, a.destination)
        assert dst is not None, f"the lab has no machine for {a}"
        src = _pod_source(lab, "pods-on-node", dst[0]) if a.source in pod_ranges else _lab_address(lab, a.source)
        assert src is not None, f"the lab has no machine for {a}"
        if src[0] is dst[0]:
            continue  # a machine talking to itself goes through lo
        for port in _ends(a.ports):
            batches[src[0].name].append(
                {"protocol": a.protocol, "source": src[1], "destination": dst[1], "port": port, "timeout": TIMEOUT, "access": str(a)}
            )
    return batches


def _required(accesses: frozenset[Access], src: str, dst: str, proto: str, port: int) -> bool:
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    return any(a.protocol == proto and s in a.source and d in a.destination and port in a.ports for a in accesses)


def blocked_probes(lab: Lab, planned: Planned) -> dict[str, list[dict[str, Any]]]:
    accesses = expand(planned.topology, planned.flows.flows)
    protected = [h for h in lab.hosts if h.ruleset is not None]
    batches: dict[str, list[dict[str, Any]]] = {h.name: [] for h in lab.hosts}
    for src_host in lab.hosts:
        # Machines send from their own address (not from the VIPs they hold); the outside namespace
        # stands for several clients and sends from each of them.
        sources = src_host.addresses if src_host.role == "outside" else src_host.addresses[:1]
        for s in sources:
            for dst_host in protected:
                if dst_host is src_host or dst_host.name == src_host.node:
                    continue  # a pod's own node: test_a_pod_reaches_only_what_its_node_grants_it
                for d in dst_host.addresses:
                    grid = [("tcp", p) for p in SAMPLE_TCP] + [("udp", p) for p in SAMPLE_UDP] + [("icmp", 8)]
                    for proto, port in grid:
                        src_ip, dst_ip = str(s.network_address), str(d.network_address)
                        # What the destination sees: a pod on another node arrives with its node's address.
                        seen = str(lab.host(src_host.node).addresses[0].network_address) if src_host.node else src_ip
                        if not _required(accesses, seen, dst_ip, proto, port):
                            batches[src_host.name].append(
                                {"protocol": proto, "source": src_ip, "destination": dst_ip, "port": port, "timeout": BLOCKED_TIMEOUT}
                            )
    return batches


def _lab_for(planned: Planned) -> Iterator[Lab]:
    lab = Lab(build_hosts(planned.topology, registered_rulesets(planned)))
    try:
        lab.start()
        lab.load_rulesets()
        tcp = sorted(
            {p for a in expand(planned.topology, planned.flows.flows) if a.protocol == "tcp" for p in _ends(a.ports)} | set(SAMPLE_TCP)
        )
        udp = sorted(
            {p for a in expand(planned.topology, planned.flows.flows) if a.protocol == "udp" for p in _ends(a.ports)} | set(SAMPLE_UDP)
        )
        for h in lab.hosts:
            if h.role not in ("outside", "pxe", "pod"):
                lab.listen(h, tcp, udp)
        yield lab
    finally:
        lab.close()


def _without_addons() -> dict[str, Any]:
    cfg = example_config()
    for c in cfg["clusters"]:
        c.pop("addons", None)
    return cfg


VARIANTS = {"example": example_config, "external-etcd": external_etcd_config, "no-addons": _without_addons}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def planned_lab(request: pytest.FixtureRequest, lab_host: None) -> Iterator[tuple[Planned, Lab]]:
    config = VARIANTS[request.param]()
    planned = plan(config)
    for lab in _lab_for(planned):
        # The same configuration as a stack file, for the probe command (which reads stacks).
        stack = {f"{PROJECT}:{k}": v for k, v in config.items()}
        stack[f"{PROJECT}:hardwareCsv"] = str(PROJECT_DIR / config["hardwareCsv"])
        (lab.workdir / "Pulumi.lab.yaml").write_text(yaml.safe_dump({"config": stack}), encoding="utf-8")
        yield planned, lab


def _failures(results: list[dict[str, Any]], want_pass: bool) -> list[str]:
    bad = []
    for r in results:
        passed = r["status"] in PASS[r["protocol"]]
        if passed != want_pass:
            bad.append(f"{r['from']} {r['source']} -> {r['destination']} {r['protocol']}/{r['port']}: {r['status']} {r.get('access', '')}")
    return bad


def test_lab_has_the_rulesets_loaded(planned_lab: tuple[Planned, Lab]) -> None:
    _planned, lab = planned_lab
    for h in lab.hosts:
        if h.ruleset is None:
            continue
        listing = lab.firewall_tables(h)
        assert listing == ["table inet eksa_firewall"], f"{h.name}: {listing}"
        assert "policy drop" in lab.nft(h, "list", "chain", "inet", "eksa_firewall", "input")
    # Loading the same file again replaces the table instead of failing or duplicating it (idempotent).
    cp = next(h for h in lab.hosts if h.role == "control-plane")
    assert cp.ruleset is not None
    before = lab.nft(cp, "list", "ruleset")
    lab.nft(cp, "-f", "-", stdin=cp.ruleset)
    assert lab.nft(cp, "list", "ruleset") == before


def test_every_required_flow_gets_through(planned_lab: tuple[Planned, Lab]) -> None:
    planned, lab = planned_lab
    batches = required_probes(lab, planned)
    assert sum(len(b) for b in batches.values()) > 50
    results = lab.probe_many(batches)
    failed = [r for r in results if r["status"] not in PASS[r["protocol"]]]
    if failed:  # one retry with a longer timeout, so a slow machine does not fail the test
        retry: dict[str, list[dict[str, Any]]] = {}
        for r in failed:
            retry.setdefault(r.pop("from"), []).append(
                {**{k: v for k, v in r.items() if k not in ("status", "ok")}, "timeout": RETRY_TIMEOUT}
            )
        results = lab.probe_many(retry)
    assert not _failures(results, want_pass=True), "required flows that did not get through:\n" + "\n".join(
        _failures(results, want_pass=True)
    )


def test_every_probed_non_required_port_is_blocked(planned_lab: tuple[Planned, Lab]) -> None:
    planned, lab = planned_lab
    batches = blocked_probes(lab, planned)
    probes = [p for b in batches.values() for p in b]
    # The cases the issue names are part of the grid.
    out = lab.host("out")
    client = next(str(a.network_address) for a in out.addresses if str(a.network_address) not in ("203.0.113.70",))
    cp1 = str(lab.host("cp1").addresses[0].network_address)
    w1 = lab.host("w1")
    for src, dst, port in [(client, cp1, 10257), (client, cp1, 10259), (client, cp1, 2379), (client, cp1, 10250), (client, cp1, 22)]:
        assert any(p["source"] == src and p["destination"] == dst and p["port"] == port and p["protocol"] == "tcp" for p in probes), (
            src,
            dst,
            port,
        )
    assert any(p["source"] == str(w1.addresses[0].network_address) and p["port"] == 2379 for p in probes)
    results = lab.probe_many(batches)
    assert len(results) == len(probes)
    leaks = _failures(results, want_pass=False)
    assert not leaks, "non-required probes that got through:\n" + "\n".join(leaks)


def test_dhcp_broadcast_from_unaddressed_machine(planned_lab: tuple[Planned, Lab]) -> None:
    """A DHCPDISCOVER (0.0.0.0:68 -> 255.255.255.255:67) reaches the admin machine and the control plane
    (which holds the Tinkerbell VIP), and no other machine's firewall lets it in."""
    _planned, lab = planned_lab
    token = f"dhcp-{uuid.uuid4().hex}"
    proc = lab.exec_python(lab.host("pxe"), "-m", "tests.baremetal.lab_agent", "dhcp", "--token", token)
    assert proc.returncode == 0, proc.stderr
    should = [h for h in lab.hosts if h.role in ("admin-machine", "control-plane")]
    should_not = [h for h in lab.hosts if h.role in ("worker", "etcd")]

    def got(h: Host) -> bool:
        return any(e["payload"] == token and e["source"] == "0.0.0.0" and e["port"] == 67 for e in lab.udp_log(h))

    for _ in range(50):  # up to 5 s for the listeners to log it
        if all(got(h) for h in should):
            break
        time.sleep(0.1)
    assert [h.name for h in should if not got(h)] == []
    assert [h.name for h in should_not if got(h)] == []


def test_probe_command_in_the_lab(planned_lab: tuple[Planned, Lab]) -> None:
    """`eksa-firewall probe --from worker` inside a worker: passes, then fails once the control plane drops 6443."""
    _planned, lab = planned_lab
    worker = lab.host("w1")
    stack_file = str(lab.workdir / "Pulumi.lab.yaml")
    cmd = ["-m", "components.cli", "probe", "--stack-file", stack_file, "--project-dir", str(PROJECT_DIR), "--from", "worker"]
    cmd += ["--timeout", "2", "--deadline", "60", "--format", "json"]
    ok = lab.exec_python(worker, *cmd)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["schema"] == "eksa-firewall/probe/v1" and doc["ok"] is True and doc["warnings"] == []
    statuses = {(r["destination_address"], r["protocol"], r["port"]): r["detail"] for r in doc["checks"]}
    assert statuses[("198.51.100.101", "tcp", 6443)] == "open"
    assert statuses[("198.51.100.100", "tcp", 42113)] == "open"

    cps = [h for h in lab.hosts if h.role == "control-plane"]
    try:
        for h in cps:
            lab.nft(h, "insert", "rule", "inet", "eksa_firewall", "input", "tcp", "dport", "6443", "drop")
        blocked = lab.exec_python(worker, *cmd)
        assert blocked.returncode == 1, blocked.stdout + blocked.stderr
        doc = json.loads(blocked.stdout)
        failed = {(r["destination_address"], r["port"]) for r in doc["checks"] if r["ok"] is False}
        assert failed == {(str(h.addresses[0].network_address), 6443) for h in cps} | {("198.51.100.101", 6443)}
        table = lab.exec_python(worker, *cmd[:-2])
        assert table.returncode == 1 and "FAILED" in table.stdout and "BLOCKED" in table.stdout
    finally:
        lab.load_rulesets()


def test_the_lab_sees_a_leak(planned_lab: tuple[Planned, Lab]) -> None:
    """The blocked-port checks are not vacuous: open 10257 on the control plane and the outside client gets in."""
    _planned, lab = planned_lab
    cp1 = lab.host("cp1")
    client = str(lab.host("out").addresses[-1].network_address)  # the stranger: allowed nothing
    probe = {
        "protocol": "tcp",
        "source": client,
        "destination": str(cp1.addresses[0].network_address),
        "port": 10257,
        "timeout": BLOCKED_TIMEOUT,
    }
    try:
        assert lab.probe(lab.host("out"), [probe])[0]["status"].startswith("blocked")
        lab.nft(cp1, "insert", "rule", "inet", "eksa_firewall", "input", "tcp", "dport", "10257", "accept")
        assert lab.probe(lab.host("out"), [{**probe, "timeout": RETRY_TIMEOUT}])[0]["status"] == "open"
    finally:
        lab.load_rulesets()


def _grid_from(pod: Host, target: Host) -> list[dict[str, Any]]:
    src = str(pod.addresses[0].network_address)
    grid = [("tcp", p) for p in SAMPLE_TCP] + [("udp", p) for p in SAMPLE_UDP] + [("icmp", 8)]
    return [
        {"protocol": proto, "source": src, "destination": str(d.network_address), "port": port, "timeout": BLOCKED_TIMEOUT}
        for d in target.addresses
        for proto, port in grid
    ]


def test_a_pod_reaches_only_what_its_node_grants_it(planned_lab: tuple[Planned, Lab]) -> None:
    """A pod reaching its own node arrives from its pod address (the node routes it locally): it gets exactly the
    ``pods-on-node`` accesses (the API server on a control-plane node; the kubelet with metrics-server), nothing more."""
    planned, lab = planned_lab
    accesses = expand(planned.topology, planned.flows.flows)
    pods = [h for h in lab.hosts if h.role == "pod"]
    assert {lab.host(p.node or "").role for p in pods} == {"control-plane", "worker"}
    batches = {p.name: _grid_from(p, lab.host(p.node or "")) for p in pods}
    results = lab.probe_many(batches)
    wrong = [
        f"{r['from']} {r['source']} -> {r['destination']} {r['protocol']}/{r['port']}: {r['status']}"
        for r in results
        if (r["status"] in PASS[r["protocol"]]) != _required(accesses, r["source"], r["destination"], r["protocol"], r["port"])
    ]
    assert not wrong, "\n".join(wrong)
    opened = {(lab.host_of(r["destination"]).role, r["port"]) for r in results if r["status"] in PASS[r["protocol"]]}
    assert ("control-plane", 6443) in opened
    scraping = "metrics-server" in planned.topology.clusters[0].addons
    assert (("control-plane", 10250) in opened) == (("worker", 10250) in opened) == scraping


def test_a_pod_on_a_worker_scrapes_other_kubelets_only_with_metrics_server(planned_lab: tuple[Planned, Lab]) -> None:
    """The pod behind w1 reaches the API server of every control-plane node (masqueraded to w1's address: the
    nodes' flow) and, only when the cluster lists metrics-server, the kubelet of every other node."""
    planned, lab = planned_lab
    pod = lab.pod_on("w1")
    assert pod is not None
    others = [h for h in lab.hosts if h.role in ("control-plane", "worker") and h.name != "w1"]
    src = str(pod.addresses[0].network_address)
    probes = [
        {"protocol": "tcp", "source": src, "destination": str(h.addresses[0].network_address), "port": port, "timeout": RETRY_TIMEOUT}
        for h in others
        for port in (6443, 10250)
        if port == 10250 or h.role == "control-plane"
    ]
    status = {(lab.host_of(r["destination"]).name, r["port"]): r["status"] for r in lab.probe(pod, probes)}
    scraping = "metrics-server" in planned.topology.clusters[0].addons
    assert {k: v for k, v in status.items() if k[1] == 6443} == {(h.name, 6443): "open" for h in others if h.role == "control-plane"}
    kubelets = {k: v for k, v in status.items() if k[1] == 10250}
    assert len(kubelets) == len(others) >= 3
    assert all((v == "open") == scraping for v in kubelets.values()), kubelets
    assert all(v == "open" or v.startswith("blocked") for v in kubelets.values()), kubelets
