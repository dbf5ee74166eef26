"""A network of Linux network namespaces where the rendered rulesets meet real packets.

One namespace per machine of the topology (admin machine, every control-plane node, worker, external
etcd machine), one for all BMCs, one for the outside clients (one address inside each client range and one
"stranger" outside all of them), one with no IPv4 address (a machine that is network booting: DHCP from
0.0.0.0), all on one bridge that lives in its own namespace. Nothing is created in the host's own network
namespace, and every packet goes to an address of these namespaces.

Behind every Kubernetes node (control plane, worker) sits one "pod": a namespace with an address of the
cluster's clusterNetwork.pods, wired the way Cilium delivers a pod's traffic with EKS-A's configuration
(docs/catalog.md, "Pods"): a veth pair whose node end is named ``lxc...`` (as Cilium names a pod's host-side
device), a /32 route to the pod through it, the node forwarding for it, and the node masquerading what the
pod sends out of the node's own device (Cilium's iptables rule "cilium masquerade non-cluster": source in the
pod range, not leaving on a cilium_ device). So a pod reaching its own node arrives on the node's input hook
from the pod's address, and a pod reaching another node arrives there from its node's address.

Every name starts with ``efw<pid>x<n>-``: ``Lab.close`` removes them (the tests call it from a fixture
finalizer, also when a test fails), and ``cleanup_leftovers`` removes those of processes that are gone.
All addresses must lie in the documentation ranges 198.51.100.0/24 and 203.0.113.0/24.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.baremetal.hosts import host_roles
from components.reader import Network
from components.topology import Topology

PROJECT_DIR = Path(__file__).resolve().parents[2]
LAB_NETS = (ipaddress.IPv4Network("198.51.100.0/24"), ipaddress.IPv4Network("203.0.113.0/24"))
PREFIX = "efw"
_NAME_RE = re.compile(rf"^{PREFIX}(\d+)x\d+-")
_counter = itertools.count()
COMMAND_TIMEOUT = 20.0  # seconds, for any one `ip`/`nft` command
READY_TIMEOUT = 15.0  # seconds for a listener to bind its sockets


class LabError(RuntimeError):
    """The lab cannot run here, or a command that builds it failed."""


def require_lab() -> None:
    """The lab needs root, `ip` (iproute2) and `nft` (nftables). CI (.ci/run) runs as root and installs both."""
    problems = []
    if os.geteuid() != 0:
        problems.append("it must run as root (network namespaces and nft need CAP_NET_ADMIN)")
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            problems.append(f"`{tool}` is missing (apt-get install {package})")
    if problems:
        raise LabError("the bare-metal lab cannot run: " + "; ".join(problems) + ". CI runs .ci/run as root, which installs them.")


def run(*args: str, stdin: str | None = None, timeout: float = COMMAND_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(args)}: no result within {timeout} s") from exc
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lab_namespaces() -> list[str]:
    out = run("ip", "netns", "list").stdout
    return [line.split()[0] for line in out.splitlines() if line.strip() and _NAME_RE.match(line.split()[0])]


def cleanup_leftovers() -> list[str]:
    """Delete lab namespaces whose creating process is gone (a run that was killed)."""
    removed = []
    for ns in lab_namespaces():
        m = _NAME_RE.match(ns)
        if m and not _pid_alive(int(m.group(1))):
            run("ip", "netns", "delete", ns, check=False)
            removed.append(ns)
    return removed


POD_NAT_TABLE = "lab_pod_masquerade"  # the lab's stand-in for Cilium's masquerade rule, in the nodes with a pod


@dataclass
class Host:
    name: str  # short: admin, cp1, w2, bmc, out, pxe; a pod: its node's name and "p" (cp1p)
    role: str  # admin-machine, control-plane, worker, etcd, bmc, outside, pxe, pod
    addresses: list[Network]  # first one is the primary
    ruleset: str | None = None
    ns: str = ""
    log: Path | None = None
    node: str | None = None  # a pod: the name of the node it runs on
    pods: Network | None = None  # a pod: its cluster's clusterNetwork.pods


@dataclass
class Lab:
    hosts: list[Host]
    prefix: str = field(default_factory=lambda: f"{PREFIX}{os.getpid()}x{next(_counter)}-")
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="eksafw-lab-")))
    listeners: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def switch(self) -> str:
        return f"{self.prefix}sw"

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def pod_on(self, node: str) -> Host | None:
        """The pod that runs on the node called ``node`` (None: the machine runs no pod)."""
        return next((h for h in self.hosts if h.node == node), None)

    def firewall_tables(self, host: Host) -> list[str]:
        """``nft list tables`` of a machine, without the lab's own pod masquerade table."""
        lines = self.nft(host, "list", "tables").splitlines()
        return [t for t in (line.strip() for line in lines) if t and not t.endswith(f" {POD_NAT_TABLE}")]

    def host_of(self, address: str) -> Host:
        ip = ipaddress.ip_address(address)
        for h in self.hosts:
            if any(ip in n for n in h.addresses):
                return h
        raise KeyError(address)

    # --- building ----------------------------------------------------------------------------------

    def start(self) -> None:
        require_lab()
        cleanup_leftovers()
        for h in self.hosts:
            for a in h.addresses:
                if not any(a.subnet_of(n) for n in LAB_NETS if a.version == 4):  # type: ignore[arg-type]
                    raise LabError(f"{h.name}: {a} is outside the lab ranges {', '.join(map(str, LAB_NETS))}")
        run("ip", "netns", "add", self.switch)
        run("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.switch, "link", "set", "br0", "up")
        for h in self.hosts:
            if h.role == "pod":
                continue  # behind its node, once the node exists
            h.ns = f"{self.prefix}{h.name}"
            run("ip", "netns", "add", h.ns)
            run("ip", "-n", h.ns, "link", "set", "lo", "up")
            veth = f"v-{h.name}"[:15]
            run("ip", "-n", self.switch, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
            run("ip", "-n", self.switch, "link", "set", veth, "master", "br0", "up")
            run("ip", "-n", h.ns, "link", "set", "eth0", "up")
            if not h.addresses:
                continue
            primary = h.addresses[0]
            home = next(n for n in LAB_NETS if primary.subnet_of(n))  # type: ignore[arg-type]
            run("ip", "-n", h.ns, "addr", "add", f"{primary.network_address}/{home.prefixlen}", "dev", "eth0")
            for extra in h.addresses[1:]:
                run("ip", "-n", h.ns, "addr", "add", f"{extra.network_address}/32", "dev", "eth0")
            for net in LAB_NETS:
                if net != home:
                    run("ip", "-n", h.ns, "route", "add", str(net), "dev", "eth0", "src", str(primary.network_address))
        for pod in self.hosts:
            if pod.role == "pod":
                self._start_pod(pod)

    def _start_pod(self, pod: Host) -> None:
        """The pod's namespace behind its node, wired as Cilium delivers it (see the module doc)."""
        assert pod.node is not None and pod.pods is not None
        node = self.host(pod.node)
        address = pod.addresses[0].network_address
        pod.ns = f"{self.prefix}{pod.name}"
        lxc = f"lxc{pod.name}"[:15]
        run("ip", "netns", "add", pod.ns)
        run("ip", "-n", pod.ns, "link", "set", "lo", "up")
        run("ip", "-n", node.ns, "link", "add", lxc, "type", "veth", "peer", "name", "eth0", "netns", pod.ns)
        run("ip", "-n", node.ns, "link", "set", lxc, "up")
        run("ip", "-n", pod.ns, "link", "set", "eth0", "up")
        run("ip", "-n", pod.ns, "addr", "add", f"{address}/32", "dev", "eth0")
        # Everything goes to the node (Cilium: a default route through the pod's eth0; the node end answers ARP).
        run("ip", "-n", pod.ns, "route", "add", "default", "dev", "eth0", "scope", "link")
        run("ip", "-n", node.ns, "route", "add", f"{address}/32", "dev", lxc)
        run("ip", "netns", "exec", node.ns, "sysctl", "-qw", f"net.ipv4.conf.{lxc}.proxy_arp=1")
        run("ip", "netns", "exec", node.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # Cilium (pkg/datapath/iptables/iptables.go, "cilium masquerade non-cluster"): -s <pod range> ! -d <pod range>
        # ! -o cilium_+ -j MASQUERADE. The node's only other device here is eth0.
        nat = (
            f"table ip {POD_NAT_TABLE} {{\n"
            "\tchain postrouting {\n"
            "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
            f'\t\tip saddr {pod.pods} ip daddr != {pod.pods} oifname "eth0" masquerade\n'
            "\t}\n"
            "}\n"
        )
        run("ip", "netns", "exec", node.ns, "nft", "-f", "-", stdin=nat)

    def load_rulesets(self) -> None:
        for h in self.hosts:
            if h.ruleset is not None:
                self.nft(h, "-f", "-", stdin=h.ruleset)

    def nft(self, host: Host, *args: str, stdin: str | None = None) -> str:
        return run("ip", "netns", "exec", host.ns, "nft", *args, stdin=stdin).stdout

    def _python(self, host: Host, *args: str) -> list[str]:
        return ["ip", "netns", "exec", host.ns, sys.executable, *args]

    def listen(self, host: Host, tcp: list[int], udp: list[int]) -> None:
        host.log = self.workdir / f"{host.name}.udp.log"
        host.log.touch()
        proc = subprocess.Popen(
            self._python(
                host,
                "-m",
                "tests.baremetal.lab_agent",
                "listen",
                "--tcp",
                ",".join(map(str, tcp)),
                "--udp",
                ",".join(map(str, udp)),
                "--log",
                str(host.log),
            ),
            cwd=PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.listeners.append(proc)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT)
        line = proc.stdout.readline() if ready else ""
        if line.strip() != "ready":
            proc.kill()
            raise LabError(f"listener in {host.name} did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")

    def probe(self, host: Host, items: list[dict[str, Any]], *, timeout: float = 60.0) -> list[dict[str, Any]]:
        proc = run(*self._python(host, "-m", "tests.baremetal.lab_agent", "probe"), stdin=json.dumps(items), timeout=timeout)
        return json.loads(proc.stdout)

    def probe_many(self, batches: dict[str, list[dict[str, Any]]], *, timeout: float = 90.0) -> list[dict[str, Any]]:
        """Run one probe agent per source host, all at once."""
        procs = {}
        for name, items in batches.items():
            if not items:
                continue
            p = subprocess.Popen(
                self._python(self.host(name), "-m", "tests.baremetal.lab_agent", "probe", "--parallel", "128"),
                cwd=PROJECT_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs[name] = (p, json.dumps(items))
        out: list[dict[str, Any]] = []
        for name, (p, data) in procs.items():
            try:
                stdout, stderr = p.communicate(data, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                p.kill()
                p.communicate()
                raise LabError(f"probes from {name} did not finish within {timeout} s") from exc
            if p.returncode != 0:
                raise LabError(f"probe agent in {name} failed: {stderr}")
            out += [{**r, "from": name} for r in json.loads(stdout)]
        return out

    def exec_python(self, host: Host, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(self._python(host, *args), cwd=PROJECT_DIR, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"{' '.join(args)} in {host.name}: no result within {timeout} s") from exc

    def udp_log(self, host: Host) -> list[dict[str, Any]]:
        assert host.log is not None
        return [json.loads(line) for line in host.log.read_text(encoding="utf-8").splitlines() if line.strip()]

    # --- teardown ----------------------------------------------------------------------------------

    def close(self) -> None:
        for p in self.listeners:
            p.terminate()
        for p in self.listeners:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
            for stream in (p.stdout, p.stderr):
                if stream is not None:
                    stream.close()
        self.listeners.clear()
        for ns in lab_namespaces():
            if ns.startswith(self.prefix):
                run("ip", "netns", "delete", ns, check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _client_representative(net: Network, taken: set[Network], avoid: list[Network]) -> Network:
    if net.num_addresses == 1:
        return net
    for host in itertools.islice(net.hosts(), 256):
        candidate = ipaddress.ip_network(host)
        if candidate not in taken and not any(host in a for a in avoid):
            return candidate
    raise LabError(f"no free address inside {net} for a lab client")


def build_hosts(topology: Topology, rulesets: dict[str, str]) -> list[Host]:
    """The lab's machines for ``topology``, each role's machines with that role's rendered ruleset, and a pod
    behind every Kubernetes node (addresses from the start of its cluster's clusterNetwork.pods)."""
    hosts: list[Host] = []
    pods: list[Host] = []
    pod_addresses: dict[Network, Iterator[Network]] = {}
    for role in host_roles(topology):
        short = {"admin-machine": "admin", "control-plane": "cp", "worker": "w", "etcd": "etcd"}[role.role]
        prefix = short if role.cluster is None or len(topology.clusters) == 1 else f"{role.cluster[:4]}{short}"
        for i, machine in enumerate(role.machines, start=1):
            if machine.num_addresses != 1:
                raise LabError(f"{role.key}: {machine} is a range; the lab needs one address per machine")
            name = prefix if len(role.machines) == 1 and role.role == "admin-machine" else f"{prefix}{i}"
            # kube-vip puts the VIPs on one control-plane node: the first.
            addresses = [machine, *(role.vips if i == 1 else ())]
            hosts.append(Host(name=name, role=role.role, addresses=addresses, ruleset=rulesets[role.key]))
            if role.cluster is not None and role.role in ("control-plane", "worker"):
                cidr = topology.cluster(role.cluster).pods
                if cidr.version != 4 or not any(cidr.subnet_of(n) for n in LAB_NETS):  # type: ignore[arg-type]
                    raise LabError(f"{role.cluster}: the lab needs clusterNetwork.pods inside {', '.join(map(str, LAB_NETS))}, not {cidr}")
                free = pod_addresses.setdefault(cidr, (ipaddress.ip_network(a) for a in cidr.hosts()))
                pods.append(Host(name=f"{name}p", role="pod", addresses=[next(free)], node=name, pods=cidr))
    taken = {a for h in hosts for a in h.addresses}
    pod_ranges = [c.pods for c in topology.clusters]
    bmcs = [b.address for b in topology.endpoints.bmcs]
    if bmcs:
        hosts.append(Host(name="bmc", role="bmc", addresses=bmcs))
        taken |= set(bmcs)
    clients = topology.clients
    outside: list[Network] = []
    # The SSH clients first, then one address in each other range that is *not* an SSH client, so that the
    # lab has a client that may use the API but not SSH.
    for net in [*clients.ssh, *clients.api, *clients.node_port]:
        rep = _client_representative(net, taken | set(outside), [] if net in clients.ssh else list(clients.ssh))
        if rep not in outside and not any(rep.subnet_of(o) for o in outside):  # type: ignore[arg-type]
            outside.append(rep)
    everyone = [*clients.ssh, *clients.api, *clients.node_port]
    stranger = next(
        ipaddress.ip_network(a)
        for a in reversed(list(LAB_NETS[1].hosts()))
        if ipaddress.ip_network(a) not in taken and not any(a in n for n in [*everyone, *pod_ranges])
    )
    hosts.append(Host(name="out", role="outside", addresses=[*outside, stranger]))
    hosts.append(Host(name="pxe", role="pxe", addresses=[]))
    return hosts + pods
