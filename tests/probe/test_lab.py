"""``eksa-firewall probe --from ROLE`` run inside a namespace lab, for each platform's example stack.

Snow, regional AWS, vSphere and Nutanix: the lab stacks (tests/probe/stacks/, the examples moved into the lab's
ranges; ``test_lab_stacks_are_the_examples`` holds them to the examples' flows) on tests/probe/lab.py, whose
bridge namespace plays the platform's stateful firewall at the machines' virtual NICs with nftables generated
from the flows and the platform's visibility.py. That exercises probe end to end against each platform's
enforcement model (stateful, silent drops, inbound or both directions, by destination group or by machine);
it does not re-implement AWS, NSX or Flow. Bare metal: the example itself (already in the lab's ranges) on
tests/baremetal/lab.py, with the rulesets the component renders loaded in the machines.

Each case: probe from machines of a few roles (nodes are given with --target, as an operator would from
``kubectl get nodes``): exit 0, every check reachable, nothing left unprobed, exactly the checks the flows
call for; TCP 4240 and UDP 6081 have no listener, so their checks pass as "refused" through the stateful
firewall. Then one required rule is withheld: exit 1, and exactly the checks of that port fail, named by the
verdict line. Needs root, ``ip`` and ``nft``: without them these tests fail with the reason.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from components.cli.common import Stack
from components.endpoints import ADMIN_MACHINE, API_CLIENTS, CONTROL_PLANE, ETCD, JENKINS, MANAGEMENT_CLUSTER, WORKER
from components.flows import Flow, FlowSet, endpoint_addresses
from components.platform import get_platform
from components.topology import Topology
from tests.baremetal.common import example_config, plan, registered_rulesets
from tests.baremetal.lab import PROJECT_DIR, Host, Lab, LabError, build_hosts, require_lab
from tests.probe.common import LAB_STACKS, load_stack_file
from tests.probe.lab import NODE_ENDPOINTS, Machine, build_machines, load_simulated_firewall, machine_for, simulated_firewall

pytestmark = pytest.mark.lab

UNLISTENED_TCP, UNLISTENED_UDP = 4240, 6081  # probed through the firewall to a machine where nothing listens


@dataclass(frozen=True)
class From:
    """One probe run: a machine of ``role`` (in ``cluster``; None: a peer or a client)."""

    role: str
    cluster: str | None = None
    machine: int = 0  # which of the role's machines (1: the second; the first control-plane node holds the VIP)
    source: bool = False  # pass --source (the clients' machine has an address per client range)


@dataclass(frozen=True)
class Withhold:
    """The rule left out of the firewall: on the machines of (cluster, endpoint), direction, protocol and port."""

    cluster: str | None
    endpoint: str
    direction: str  # "in" | "out"
    protocol: str
    port: int
    probe_from: From
    fails: tuple[str, ...]  # the endpoints whose checks on that port must fail


@dataclass(frozen=True)
class Case:
    stack: str
    match_destination: bool
    runs: tuple[From, ...]
    withhold: Withhold
    caveats: tuple[str, ...] = field(default=())


CASES = {
    "snow": Case(
        stack="snow-lab",
        match_destination=False,
        runs=(From(WORKER, "mgmt"), From(ETCD, "prod"), From(ADMIN_MACHINE)),
        withhold=Withhold("mgmt", WORKER, "out", "tcp", 8243, From(WORKER, "mgmt"), fails=("snow-device",)),
        caveats=("aws.mode is snow",),
    ),
    "aws-region": Case(
        stack="aws-region-lab",
        match_destination=False,
        runs=(From(ADMIN_MACHINE), From(JENKINS)),
        withhold=Withhold(None, ADMIN_MACHINE, "out", "tcp", 6443, From(ADMIN_MACHINE), fails=("control-plane", "control-plane-vip")),
    ),
    "vsphere": Case(
        stack="vsphere-lab",
        match_destination=True,
        runs=(From(WORKER, "mgmt"), From(CONTROL_PLANE, "prod", machine=1), From(API_CLIENTS, source=True)),
        withhold=Withhold("mgmt", CONTROL_PLANE, "in", "tcp", 6443, From(WORKER, "mgmt"), fails=("control-plane", "control-plane-vip")),
    ),
    "nutanix": Case(
        stack="nutanix-lab",
        match_destination=False,
        runs=(From(CONTROL_PLANE, "mgmt", machine=1), From(WORKER, "prod"), From(JENKINS)),
        withhold=Withhold("mgmt", WORKER, "in", "tcp", 10250, From(CONTROL_PLANE, "mgmt", machine=1), fails=("worker",)),
    ),
}


@dataclass
class PlatformLab:
    name: str
    lab: Lab
    stack: Stack
    stack_file: Path
    machines: list[Machine]

    @property
    def topology(self) -> Topology:
        return self.stack.topology

    @property
    def flows(self) -> FlowSet:
        return self.stack.flows


def _ports(flows: FlowSet, protocol: str) -> list[int]:
    return sorted({p for f in flows.flows if f.protocol == protocol for r in f.ports for p in (r.lo, r.hi)})


def _listen(lab: Lab, hosts: list[Host], flows: FlowSet) -> None:
    tcp = [p for p in _ports(flows, "tcp") if p != UNLISTENED_TCP]
    udp = [p for p in _ports(flows, "udp") if p != UNLISTENED_UDP]
    for h in hosts:
        if h.addresses and h.role not in ("clients", "outside"):
            lab.listen(h, tcp, udp)


def _start(lab: Lab) -> None:
    try:
        require_lab()
    except LabError as exc:
        pytest.fail(str(exc), pytrace=False)
    lab.start()


@pytest.fixture(scope="module", params=sorted(CASES))
def platform_lab(request: pytest.FixtureRequest) -> Iterator[tuple[Case, PlatformLab]]:
    case = CASES[request.param]
    stack_file = LAB_STACKS / f"Pulumi.{case.stack}.yaml"
    stack = load_stack_file(stack_file)
    machines = build_machines(stack.topology, stack.flows)
    lab = Lab([m.host for m in machines])
    try:
        _start(lab)
        pl = PlatformLab(name=request.param, lab=lab, stack=stack, stack_file=stack_file, machines=machines)
        _load(case, pl)
        _listen(lab, lab.hosts, stack.flows)
        yield case, pl
    finally:
        lab.close()


def _load(case: Case, pl: PlatformLab, withhold: Withhold | None = None) -> None:
    hosts = []
    if withhold is not None:
        hosts = [m.host.name for m in pl.machines if (withhold.cluster, withhold.endpoint) in m.endpoints]
        assert hosts
    text = simulated_firewall(
        pl.topology,
        pl.flows,
        get_platform(pl.topology.platform).visibility(pl.topology),
        pl.machines,
        match_destination=case.match_destination,
        withhold=[(h, withhold.direction, withhold.protocol, withhold.port) for h in hosts] if withhold else (),
    )
    load_simulated_firewall(pl.lab, text)


def _machine(pl: PlatformLab, who: From) -> Machine:
    if who.role == API_CLIENTS:
        return machine_for(pl.machines, None, API_CLIENTS)
    chosen = [m for m in pl.machines if (who.cluster, who.role) in m.endpoints]
    return chosen[who.machine]


def _originated(topology: Topology, flows: FlowSet, role: str, address: str) -> list[Flow]:
    """The flows ``role``'s machine at ``address`` opens, found from addresses alone (not components.probe's logic):
    those from ``role``, or from the management-cluster, whose source addresses hold the machine."""
    ip = ipaddress.ip_address(address)
    return [
        f
        for f in flows.flows
        if f.source in (role, MANAGEMENT_CLUSTER)
        and any(ip in n for n in endpoint_addresses(topology, topology.cluster(f.cluster), f.source))
    ]


def _targets(pl: PlatformLab, who: From) -> list[str]:
    """--target for every node endpoint the role's flows go to: the lab machines that stand for it."""
    flows = _originated(pl.topology, pl.flows, who.role, _sender(pl, who))
    out = []
    for cluster, endpoint in sorted({(f.cluster, f.destination) for f in flows}):
        if endpoint in NODE_ENDPOINTS:
            addresses = [m.address for m in pl.machines if (cluster, endpoint) in m.endpoints]
            out += ["--target", f"{cluster}/{endpoint}={','.join(addresses)}"]
    return out


def _expected(pl: PlatformLab, who: From) -> set[tuple[str, str, str, int]]:
    """(destination endpoint, address, protocol, port) the flows call for from this machine, from the lab's machines."""
    out = set()
    for f in _originated(pl.topology, pl.flows, who.role, _sender(pl, who)):
        cluster = pl.topology.cluster(f.cluster)
        if f.destination in NODE_ENDPOINTS:
            addresses = [m.address for m in pl.machines if (f.cluster, f.destination) in m.endpoints]
        else:
            addresses = [str(n.network_address) for n in endpoint_addresses(pl.topology, cluster, f.destination)]
        for a in addresses:
            for r in f.ports:
                for p in {r.lo, r.hi}:
                    out.add((f.destination, a, f.protocol, p))
    return out


def _sender(pl: PlatformLab, who: From) -> str:
    m = _machine(pl, who)
    return _client_address(pl, m, who.role) if who.source else m.address


def _probe(pl: PlatformLab, who: From, *extra: str, fmt: str = "json") -> tuple[int, Any, str]:
    m = _machine(pl, who)
    cmd = ["-m", "components.cli", "probe", "--stack-file", str(pl.stack_file), "--project-dir", str(PROJECT_DIR)]
    cmd += ["--from", who.role, "--timeout", "2", "--deadline", "60", "--parallel", "64", "--format", fmt]
    if who.cluster:
        cmd += ["--cluster", who.cluster]
    if who.source:
        cmd += ["--source", _client_address(pl, m, who.role)]
    cmd += [*_targets(pl, who), *extra]
    proc = pl.lab.exec_python(m.host, *cmd)
    assert proc.stderr == "", proc.stderr
    return proc.returncode, (json.loads(proc.stdout) if fmt == "json" else None), proc.stdout


def _client_address(pl: PlatformLab, m: Machine, role: str) -> str:
    nets = endpoint_addresses(pl.topology, pl.topology.clusters[0], role)
    return next(str(a.network_address) for a in m.host.addresses if any(a.subnet_of(n) for n in nets))  # type: ignore[arg-type]


def _checks(doc: Any) -> set[tuple[str, str, str, int]]:
    return {(c["destination"], c["destination_address"], c["protocol"], c["port"]) for c in doc["checks"]}


def test_probe_passes_from_every_role(platform_lab: tuple[Case, PlatformLab]) -> None:
    case, pl = platform_lab
    for who in case.runs:
        code, doc, _ = _probe(pl, who)
        context = f"{pl.name} --from {who.role}: {json.dumps(doc['summary'])} {doc['warnings']}"
        assert code == 0, context
        assert doc["schema"] == "eksa-firewall/probe/v1" and doc["ok"] is True and doc["platform"] == pl.topology.platform
        assert doc["not_probed"] == [], context
        assert _checks(doc) == _expected(pl, who), context
        bad = [c for c in doc["checks"] if c["verdict"] not in ("reachable", "skipped")]
        assert bad == [], context
        # Nothing listens on these: the RST and the ICMP port unreachable came back through the stateful firewall.
        for c in doc["checks"]:
            if (c["protocol"], c["port"]) in (("tcp", UNLISTENED_TCP), ("udp", UNLISTENED_UDP)) and c["verdict"] != "skipped":
                assert c["detail"] == "refused: reachable, nothing listening", c
        skipped = {c["destination_address"] for c in doc["checks"] if c["verdict"] == "skipped"}
        assert skipped <= {str(a.network_address) for a in _machine(pl, who).host.addresses}
        warnings = doc["warnings"]
        assert len(warnings) == len(case.caveats) and all(w.startswith(c) for w, c in zip(warnings, case.caveats, strict=True)), warnings


def test_a_withheld_rule_fails_exactly_its_checks(platform_lab: tuple[Case, PlatformLab]) -> None:
    case, pl = platform_lab
    w = case.withhold
    try:
        _load(case, pl, withhold=w)
        code, doc, _ = _probe(pl, w.probe_from)
        failed = {(c["destination"], c["destination_address"], c["protocol"], c["port"]) for c in doc["checks"] if c["ok"] is False}
        expected = {e for e in _expected(pl, w.probe_from) if e[0] in w.fails and e[2] == w.protocol and e[3] == w.port}
        if w.direction == "in":  # only the machines the rule was withheld from
            held = {
                a
                for m in pl.machines
                if (w.cluster, w.endpoint) in m.endpoints
                for a in map(str, (x.network_address for x in m.host.addresses))
            }
            expected = {e for e in expected if e[1] in held}
        assert expected and failed == expected, (failed, expected)
        assert code == 1 and doc["ok"] is False
        failing = [c for c in doc["checks"] if c["ok"] is False]  # a port may fail for two flows (management-cluster)
        assert all(c["verdict"] == "blocked" for c in failing)
        code, _, text = _probe(pl, w.probe_from, fmt="table")
        verdict_line = text.strip().splitlines()[-1]
        assert code == 1 and verdict_line.startswith(f"FAILED: {len(failing)} check(s) failed")
        assert all(f"{address} {w.protocol} {w.port} (blocked)" in verdict_line for _, address, _, _ in expected), verdict_line
    finally:
        _load(case, pl)


# --- bare metal: the example, the rendered rulesets in the machines ----------------------------------------------


@pytest.fixture(scope="module")
def baremetal_lab() -> Iterator[tuple[Lab, Path]]:
    planned = plan(example_config())
    lab = Lab(build_hosts(planned.topology, registered_rulesets(planned)))
    try:
        _start(lab)
        lab.load_rulesets()
        _listen(lab, [h for h in lab.hosts if h.role not in ("pxe",)], planned.flows)
        yield lab, PROJECT_DIR / "stacks" / "Pulumi.baremetal-example.yaml"
    finally:
        lab.close()


BAREMETAL_RUNS = {"worker": "w1", "control-plane": "cp2", "admin-machine": "admin"}


def _bm_probe(lab: Lab, stack_file: Path, role: str, fmt: str = "json") -> tuple[int, str]:
    cmd = ["-m", "components.cli", "probe", "--stack-file", str(stack_file), "--project-dir", str(PROJECT_DIR), "--from", role]
    cmd += ["--timeout", "2", "--deadline", "60", "--parallel", "64", "--format", fmt]
    proc = lab.exec_python(lab.host(BAREMETAL_RUNS[role]), *cmd)
    assert proc.stderr == "", proc.stderr
    return proc.returncode, proc.stdout


def test_baremetal_probe_passes_from_every_role(baremetal_lab: tuple[Lab, Path]) -> None:
    lab, stack_file = baremetal_lab
    stack = load_stack_file(stack_file)
    for role in BAREMETAL_RUNS:
        code, out = _bm_probe(lab, stack_file, role)
        doc = json.loads(out)
        assert code == 0 and doc["ok"] is True and doc["warnings"] == [] and doc["not_probed"] == [], (role, doc["summary"])
        assert [c for c in doc["checks"] if c["verdict"] not in ("reachable", "skipped")] == []
        wanted = {
            (f.destination, str(n.network_address), f.protocol, p)
            for f in _originated(stack.topology, stack.flows, role, str(lab.host(BAREMETAL_RUNS[role]).addresses[0].network_address))
            for n in endpoint_addresses(stack.topology, stack.topology.cluster(f.cluster), f.destination)
            for r in f.ports
            for p in {r.lo, r.hi}
        }
        assert _checks(doc) == wanted


def test_baremetal_tftp_blocked_at_the_admin_machine(baremetal_lab: tuple[Lab, Path]) -> None:
    """UDP 69 answers a read request, so silence there is a failure (not "no answer expected")."""
    lab, stack_file = baremetal_lab
    admin = lab.host("admin")
    try:
        lab.nft(admin, "insert", "rule", "inet", "eksa_firewall", "input", "udp", "dport", "69", "drop")
        code, out = _bm_probe(lab, stack_file, "worker")
        doc = json.loads(out)
        failed = [(c["destination_address"], c["protocol"], c["port"], c["rows"], c["detail"]) for c in doc["checks"] if c["ok"] is False]
        assert code == 1 and failed == [("198.51.100.5", "udp", 69, ["bm-tftp"], "no answer (blocked, or the service is down)")]
        syslog = next(c for c in doc["checks"] if c["destination_address"] == "198.51.100.5" and c["port"] == 514)
        assert syslog["verdict"] == "reachable" and syslog["rows"] == ["bm-syslog"]  # the listener echoes
        code, text = _bm_probe(lab, stack_file, "worker", fmt="table")
        assert code == 1 and "198.51.100.5 udp 69 (blocked)" in text.strip().splitlines()[-1]
    finally:
        lab.load_rulesets()
