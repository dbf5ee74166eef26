"""``probe``'s parts without the lab: what is checked (from the flows, on every platform's example), the verdicts
(loopback only), a run with the network stood in for, the report, the command line. No packet leaves loopback:
the command-line tests replace ``route_source`` and ``probe_check`` (tests/probe/test_lab.py sends real ones)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import probe
from components.baremetal.probe import RMCP_PRESENCE_PING, TFTP_RRQ
from components.cli import main
from components.endpoints import MANAGEMENT_CLUSTER
from components.flows import FlowSet, endpoint_addresses
from components.platform import platforms
from components.topology import Topology
from tests.helpers import PROJECT_DIR
from tests.probe.common import LAB_OF_EXAMPLE, LAB_STACKS, load_example, load_stack_file

EXAMPLES = ("snow-example", "aws-region-example", "vsphere-example", "nutanix-example", "baremetal-example")


# --- the lab stacks are the examples ---------------------------------------------------------------------


def _shape(topology: Topology, flows: FlowSet) -> list[tuple[object, ...]]:
    """The flows without addresses, and for each endpoint whether it is single machines or ranges."""
    out: list[tuple[object, ...]] = []
    for f in flows.flows:
        cluster = topology.cluster(f.cluster)
        kinds = tuple(
            tuple(sorted(n.num_addresses == 1 for n in endpoint_addresses(topology, cluster, e))) for e in (f.source, f.destination)
        )
        out.append((f.cluster, f.source, f.destination, f.protocol, f.ports_text, f.rows, kinds))
    return out


@pytest.mark.parametrize(("example", "lab"), sorted(LAB_OF_EXAMPLE.items()))
def test_lab_stacks_are_the_examples(example: str, lab: str) -> None:
    """The lab stack has the example's flows, rows, ports and kinds of addresses; only the addresses moved."""
    ex, lb = load_example(example), load_stack_file(LAB_STACKS / f"Pulumi.{lab}.yaml")
    assert ex.topology.platform == lb.topology.platform
    assert _shape(ex.topology, ex.flows) == _shape(lb.topology, lb.flows)


# --- what is checked -----------------------------------------------------------------------------------------


def _expected(
    topology: Topology, flows: FlowSet, role: str, clusters: list[str]
) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    """(checks, ranges) computed here from the flows: single addresses at both ends of each range; ranges apart."""
    managed = {c.name for c in topology.clusters if c.managed_by in clusters}
    checks: set[tuple[object, ...]] = set()
    ranges: set[tuple[object, ...]] = set()
    for f in flows.flows:
        mine = f.source == role and f.cluster in clusters
        as_manager = role in ("control-plane", "worker") and f.source == MANAGEMENT_CLUSTER and f.cluster in managed
        if not (mine or as_manager):
            continue
        for n in endpoint_addresses(topology, topology.cluster(f.cluster), f.destination):
            if n.num_addresses > 1:
                ranges.add((f.cluster, f.source, f.destination, str(n), f.protocol))
                continue
            for r in f.ports:
                for p in (r.lo, r.hi):
                    checks.add((f.cluster, f.source, f.destination, str(n.network_address), f.protocol, p))
    return checks, ranges


@pytest.mark.parametrize("example", EXAMPLES)
def test_checks_follow_the_flows_of_every_example(example: str) -> None:
    stack = load_example(example)
    topology, flows = stack.topology, stack.flows
    roles = probe.probe_sources(flows)
    assert "dhcp-clients" not in roles and {"admin-machine", "control-plane", "worker"} <= set(roles)
    for role in roles:
        for cluster in topology.clusters:
            if not probe.originated(topology, flows, role, [cluster.name]):
                with pytest.raises(probe.ProbeError, match=f"--from {role}: no required flow of cluster {cluster.name}"):
                    probe.select_checks(topology, flows, role, [cluster.name])
                continue
            sel = probe.select_checks(topology, flows, role, [cluster.name])
            got = {(c.flow.cluster, c.flow.source, c.flow.destination, c.address, c.flow.protocol, c.port) for c in sel.checks}
            ranges = {(u.flow.cluster, u.flow.source, u.flow.destination, str(u.network), u.flow.protocol) for u in sel.unprobed}
            assert (got, ranges) == _expected(topology, flows, role, [cluster.name]), (example, role, cluster.name)
            assert [c.sort_key for c in sel.checks] == sorted(c.sort_key for c in sel.checks)


def test_a_managing_clusters_nodes_check_the_management_cluster_flows() -> None:
    stack = load_example("vsphere-example")
    t, f = stack.topology, stack.flows
    sel = probe.select_checks(t, f, "worker", ["mgmt"], targets=[probe.parse_target("prod/etcd=10.22.0.33")])
    assert ("prod", MANAGEMENT_CLUSTER, "etcd", "10.22.0.33", 2379) in {
        (c.flow.cluster, c.flow.source, c.flow.destination, c.address, c.port) for c in sel.checks
    }
    assert any(c.flow.source == MANAGEMENT_CLUSTER and c.flow.destination == "vcenter" for c in sel.checks)
    alone = probe.select_checks(t, f, "worker", ["prod"])
    assert {c.flow.source for c in alone.checks} == {"worker"} and {c.flow.cluster for c in alone.checks} == {"prod"}


def test_each_port_names_its_own_rows_and_request() -> None:
    stack = load_example("baremetal-example")
    sel = probe.select_checks(stack.topology, stack.flows, "worker", ["mgmt"], udp_requests=_requests("baremetal"))
    by = {(c.address, c.flow.protocol, c.port): c for c in sel.checks}
    assert by[("198.51.100.5", "udp", 69)].rows == ("bm-tftp",) and by[("198.51.100.5", "udp", 69)].request == TFTP_RRQ
    assert by[("198.51.100.5", "udp", 67)].rows == ("bm-dhcp",) and by[("198.51.100.5", "udp", 67)].request is None
    assert by[("198.51.100.5", "udp", 514)].rows == ("bm-syslog",)
    assert by[("203.0.113.11", "udp", 623)].request == RMCP_PRESENCE_PING
    assert by[("203.0.113.11", "tcp", 623)].request is None and by[("203.0.113.11", "tcp", 623)].rows == ("bm-rufio-ipmi",)
    assert by[("198.51.100.101", "tcp", 6443)].rows == ("cp-kube-apiserver",)
    snow = load_example("snow-example")
    lb = probe.select_checks(snow.topology, snow.flows, "api-clients", ["prod"]).checks
    # The load balancer's own port is no row's: the flow's rows stand for it.
    assert [(c.flow.destination, c.port, c.rows) for c in lb] == [("api-load-balancer", 443, ("cp-kube-apiserver",))]


def _requests(platform: str) -> Any:
    return platforms()[platform].module("probe").UDP_REQUESTS


def test_every_platform_says_what_its_probe_needs() -> None:
    for p in platforms().values():
        module = p.module("probe")
        assert all(isinstance(k, str) and isinstance(v, bytes) for k, v in module.UDP_REQUESTS.items())
        assert callable(module.caveats)


# --- targets -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("worker", "write it as ENDPOINT=ADDRESS"),
        ("=10.0.0.1", "write it as ENDPOINT=ADDRESS"),
        ("/worker=10.0.0.1", "write it as ENDPOINT=ADDRESS"),
        ("worker=10.0.0.0/24", "'10.0.0.0/24' is not an IP address of one machine"),
        ("worker=10.21.1.7,", "'' is not an IP address"),
    ],
)
def test_target_syntax(text: str, message: str) -> None:
    with pytest.raises(probe.ProbeError, match=f"--target {text}: .*{message}".replace("/", "/").replace(".", r"\.")):
        probe.parse_target(text)


def test_target_parsing() -> None:
    t = probe.parse_target(" prod/worker = 10.22.1.7, 10.22.1.7 ,10.22.2.3")
    assert (t.cluster, t.endpoint, [str(a) for a in t.addresses]) == ("prod", "worker", ["10.22.1.7", "10.22.2.3"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("staging/worker=10.21.1.7", "no cluster 'staging' in this stack"),
        ("workers=10.21.1.7", "'workers' is not an endpoint"),
        ("worker=10.99.0.1", r"10\.99\.0\.1 is not inside worker \(10\.21\.1\.0/25, 10\.22\.1\.0/24, 10\.22\.2\.0/26\)"),
        ("mgmt/worker=10.22.1.7", r"10\.22\.1\.7 is not inside worker \(10\.21\.1\.0/25\)"),
    ],
)
def test_targets_must_fit_the_stack(text: str, message: str) -> None:
    stack = load_example("vsphere-example")
    with pytest.raises(probe.ProbeError, match=message):
        probe.select_checks(stack.topology, stack.flows, "worker", ["mgmt"], targets=[probe.parse_target(text)])


def test_targets_stand_for_ranges() -> None:
    stack = load_example("vsphere-example")
    targets = [probe.parse_target("worker=10.21.1.7,10.22.2.3"), probe.parse_target("etcd=10.22.0.33")]
    sel = probe.select_checks(stack.topology, stack.flows, "worker", ["mgmt"], targets=targets)
    to_workers = {c.address for c in sel.checks if c.flow.destination == "worker"}
    assert to_workers == {"10.21.1.7"}  # 10.22.2.3 is a prod worker: a mgmt worker's flows do not go there
    assert sel.unused_targets == ()  # etcd=10.22.0.33 served the management-cluster flow; worker=... served mgmt
    assert not any(u.flow.destination == "worker" for u in sel.unprobed)
    unused = probe.select_checks(stack.topology, stack.flows, "admin-machine", ["mgmt"], targets=targets[:1])
    assert unused.unused_targets == ("worker=10.21.1.7,10.22.2.3",)


# --- a run, with the network stood in for ------------------------------------------------------------------------


def _network(sends_from: str | None, *, own: tuple[str, ...] = (), verdicts: dict[int, probe.Outcome] | None = None) -> dict[str, Any]:
    """route/prober stand-ins: this machine sends from ``sends_from``; ``own`` are its addresses; a port in
    ``verdicts`` answers that outcome, every other port is open."""
    probed: list[probe.Check] = []

    def route(address: str, source: str | None) -> str | None:
        if address in own:
            return address
        return source or sends_from

    def prober(check: probe.Check, timeout: float, source: str | None) -> probe.Outcome:
        probed.append(check)
        return (verdicts or {}).get(check.port, probe.Outcome(verdict=probe.REACHABLE, detail="open"))

    return {"route": route, "prober": prober, "probed": probed}


def _run(example: str, role: str, net: dict[str, Any], **kwargs: Any) -> probe.Run:
    stack = load_example(example)
    return probe.run(stack.topology, stack.flows, role, route=net["route"], prober=net["prober"], **kwargs)


def test_the_cluster_is_the_one_whose_role_holds_this_machine() -> None:
    net = _network("10.21.1.7")
    r = _run("vsphere-example", "worker", net)
    assert r.clusters == ("mgmt",) and r.warnings == () and r.sent_from == ("10.21.1.7",)
    assert {x.check.flow.source for x in r.results} == {"worker", MANAGEMENT_CLUSTER}
    assert r.ok() and all(x.outcome.verdict == probe.REACHABLE for x in r.results)
    elsewhere = _run("vsphere-example", "worker", _network("192.0.2.9"))
    assert elsewhere.clusters == ("mgmt", "prod")
    assert elsewhere.warnings[0].startswith("this machine sends from 192.0.2.9, which is not an address of worker")
    chosen = _run("vsphere-example", "worker", _network("10.21.1.7"), cluster="prod")
    assert chosen.clusters == ("prod",) and "not an address of worker" in chosen.warnings[0]


def test_this_machine_is_skipped_and_unroutable_fails() -> None:
    net = _network("10.21.0.17", own=("10.21.0.17", "10.21.0.10"))  # a control-plane node that holds the VIP
    r = _run("vsphere-example", "control-plane", net, targets=[probe.parse_target("mgmt/control-plane=10.21.0.17,10.21.0.18")])
    skipped = {(x.check.address, x.outcome.verdict) for x in r.results if x.outcome.verdict == probe.SKIPPED}
    assert {a for a, _ in skipped} == {"10.21.0.17", "10.21.0.10"}
    assert all(c.address not in ("10.21.0.17", "10.21.0.10") for c in net["probed"])
    assert r.ok() and r.sent_from == ("10.21.0.17",)
    lost = _run("vsphere-example", "worker", _network(None), cluster="mgmt")
    assert {x.outcome.verdict for x in lost.results} == {probe.NO_ROUTE} and not lost.ok()
    assert lost.warnings == ("no route from this machine to 3 destination address(es): check its routes",)  # 2 VIPs, vCenter


def test_verdicts_decide_the_outcome() -> None:
    blocked = probe.Outcome(verdict=probe.BLOCKED, detail="blocked (no answer within the timeout)")
    silent = probe.Outcome(verdict=probe.UNVERIFIED, detail="sent, no answer expected")
    r = _run("baremetal-example", "worker", _network("198.51.100.21", verdicts={6081: silent}))
    assert r.ok() and not r.ok(strict=True)
    assert {x.check.port for x in r.failed(strict=True)} == {6081}
    r = _run("baremetal-example", "worker", _network("198.51.100.21", verdicts={6443: blocked, 6081: silent}))
    assert not r.ok() and {(x.check.address, x.check.port) for x in r.failed()} == {
        ("198.51.100.11", 6443), ("198.51.100.12", 6443), ("198.51.100.13", 6443), ("198.51.100.101", 6443),
    }  # fmt: skip
    ranges = _run("vsphere-example", "worker", _network("10.21.1.7"))
    assert ranges.ok() and ranges.unprobed and not ranges.ok(strict=True)


def test_the_deadline_bounds_the_run() -> None:
    """With a deadline shorter than one probe, the rest is reported as not probed, and counts as failed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as srv:
        srv.bind(("127.0.0.1", 0))
        port = srv.getsockname()[1]
        stack = load_example("baremetal-example")
        flow = next(f for f in stack.flows.flows if f.protocol == "udp")
        checks = [probe.Check(flow=flow, address="127.0.0.1", port=port, rows=flow.rows) for _ in range(4)]
        outcomes = probe.run_probes(checks, timeout=0.5, deadline=0.05, parallel=1)
    assert len(outcomes) == 4
    assert any(o.verdict == probe.DEADLINE and o.ok is False for o in outcomes)


def test_report_shape() -> None:
    blocked = probe.Outcome(verdict=probe.BLOCKED, detail="blocked (no answer within the timeout)")
    r = _run("vsphere-example", "worker", _network("10.21.1.7", verdicts={443: blocked}))
    doc = probe.report(r, stack="vsphere-example", platform="vsphere", caveats=("a caveat",))
    assert list(doc) == [
        "schema", "stack", "platform", "role", "clusters", "sent_from", "strict", "ok", "summary", "warnings", "checks", "not_probed",
    ]  # fmt: skip
    assert doc["schema"] == "eksa-firewall/probe/v1" and doc["ok"] is False and doc["warnings"] == ["a caveat"]
    checks: list[dict[str, Any]] = doc["checks"]  # type: ignore[assignment]
    assert set(checks[0]) == {
        "cluster", "source", "source_address", "destination", "destination_address", "protocol", "port", "verdict", "ok",
        "detail", "rows", "flow",
    }  # fmt: skip
    vcenter = [c for c in checks if c["destination"] == "vcenter"]
    assert {(c["source"], c["verdict"], c["ok"], c["source_address"]) for c in vcenter} == {
        ("worker", "blocked", False, "10.21.1.7"), ("management-cluster", "blocked", False, "10.21.1.7"),
    }  # fmt: skip
    assert vcenter[0]["flow"] == {
        "cluster": "mgmt",
        "source": "worker",
        "destination": "vcenter",
        "protocol": "tcp",
        "ports": "443",
        "rows": ["vsphere-vcenter"],
    }
    summary: dict[str, int] = doc["summary"]  # type: ignore[assignment]
    assert summary["blocked"] == 2 and summary["reachable"] == len(checks) - 2 and summary["not_probed"] == len(doc["not_probed"])  # type: ignore[arg-type]
    assert json.loads(json.dumps(doc)) == doc


# --- the probes themselves, on loopback -------------------------------------------------------------------------


@pytest.fixture
def tcp_listener() -> Iterator[int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(5)
    port = srv.getsockname()[1]

    def serve() -> None:
        try:
            conn, _ = srv.accept()
            conn.close()
        except OSError:
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield port
    srv.close()
    t.join(timeout=5)


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp_open_and_refused(tcp_listener: int) -> None:
    assert probe.probe_tcp("127.0.0.1", tcp_listener, 2.0) == probe.Outcome(verdict="reachable", detail="open")
    refused = probe.probe_tcp("127.0.0.1", _free_port(socket.SOCK_STREAM), 2.0)
    assert refused == probe.Outcome(verdict="reachable", detail="refused: reachable, nothing listening") and refused.ok is True


def test_udp_answered_refused_and_silent() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.settimeout(5)
        port = srv.getsockname()[1]

        def echo() -> None:
            data, peer = srv.recvfrom(2048)
            srv.sendto(data, peer)

        t = threading.Thread(target=echo, daemon=True)
        t.start()
        assert probe.probe_udp("127.0.0.1", port, 2.0).detail == "answered"
        t.join(timeout=5)
        # Bound but silent: a service that never answers a stray datagram proves nothing either way.
        silent = probe.probe_udp("127.0.0.1", port, 0.2)
        assert (silent.verdict, silent.detail, silent.ok) == ("unverified", "sent, no answer expected", None)
        # With a request the service would answer, silence is a failure.
        assert probe.probe_udp("127.0.0.1", port, 0.2, request=TFTP_RRQ).verdict == "blocked"
    refused = probe.probe_udp("127.0.0.1", _free_port(socket.SOCK_DGRAM), 2.0)
    assert (refused.verdict, refused.detail) == ("reachable", "refused: reachable, nothing listening")


def test_icmp_echo_and_other_types() -> None:
    assert probe.probe_icmp("127.0.0.1", 3, 1.0) == probe.Outcome(verdict="unverified", detail="not probed (ICMP type 3)")
    assert probe.probe_icmp("127.0.0.1", 8, 2.0).verdict in ("reachable", "unverified")  # unverified: no ICMP socket allowed


# --- the command line, with the network stood in for -------------------------------------------------------------


@pytest.fixture
def fake_network(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    def install(sends_from: str | None, **kwargs: Any) -> None:
        net = _network(sends_from, **kwargs)
        monkeypatch.setattr(probe, "route_source", net["route"])
        monkeypatch.setattr(probe, "probe_check", net["prober"])

    return install


def _cli(*args: str) -> int:
    return main(["probe", "--project-dir", str(PROJECT_DIR), *args])


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str], fake_network: Callable[..., None]) -> None:
    fake_network("198.51.100.21")
    base = ["--stack", "baremetal-example"]
    cases = [
        (["--from", "dhcp-clients"], "--from dhcp-clients: no required flow starts there; choose one of admin-machine, api-clients, "),
        (["--from", "worker", "--cluster", "nope"], "--cluster nope: no such cluster in this stack (mgmt)"),
        (["--from", "worker", "--target", "worker"], "--target worker: write it as ENDPOINT=ADDRESS"),
        (["--from", "worker", "--target", "worker=203.0.113.9"], "--target worker=203.0.113.9: 203.0.113.9 is not inside worker"),
        (["--from", "worker", "--source", "eth0"], "--source eth0: not an IP address"),
    ]
    for extra, message in cases:
        assert _cli(*base, *extra) == 2, extra
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(SystemExit):
        _cli(*base, "--from", "worker", "--timeout", "0")


def test_cli_json_and_exit_status(
    capsys: pytest.CaptureFixture[str], fake_network: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    fake_network("198.51.100.21", own=("198.51.100.21",))
    assert _cli("--stack", "baremetal-example", "--from", "worker", "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["clusters"] == ["mgmt"] and doc["warnings"] == [] and doc["platform"] == "baremetal"
    assert {c["verdict"] for c in doc["checks"]} == {"reachable", "skipped"}
    blocked = probe.Outcome(verdict=probe.BLOCKED, detail="blocked (no answer within the timeout)")
    fake_network("198.51.100.21", verdicts={7171: blocked})
    out = tmp_path / "reports" / "probe.json"
    assert _cli("--stack", "baremetal-example", "--from", "worker", "--format", "json", "-o", str(out)) == 1
    assert capsys.readouterr().out == ""
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert {(c["destination_address"], c["port"]) for c in doc["checks"] if c["ok"] is False} == {
        ("198.51.100.5", 7171),
        ("198.51.100.100", 7171),
    }
    assert _cli("--stack", "baremetal-example", "--from", "worker") == 1
    text = capsys.readouterr().out
    last = text.strip().splitlines()[-1]
    assert last.startswith("FAILED: 2 check(s) failed: mgmt worker -> admin-machine 198.51.100.5 tcp 7171 (blocked); ")
    assert "cluster mgmt, from worker:" in text and "BLOCKED (no answer within the timeout)" in text
    assert _cli("--stack", "vsphere-example", "--from", "worker", "--strict") == 1  # ranges not probed
    assert "(strict: ranges not probed count)" in capsys.readouterr().out


def test_cli_table_names_ranges_to_target(capsys: pytest.CaptureFixture[str], fake_network: Callable[..., None]) -> None:
    fake_network("10.21.1.7")
    assert _cli("--stack", "vsphere-example", "--from", "worker") == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == "probe from worker (cluster mgmt) on vsphere-example (vsphere), sending from 10.21.1.7"
    assert (
        "not probed: mgmt worker -> worker 10.21.1.0/25 (icmp 8, tcp 4240|30000-32767, udp 6081): a range; name its machines with --target mgmt/worker=ADDRESS[,ADDRESS...]"
        in text
    )
    assert text.strip().splitlines()[-1].startswith("OK: every check that could be made is reachable [")


def _variant(tmp_path: Path, example: str, change: Callable[[dict[str, Any]], None]) -> str:
    doc = yaml.safe_load((PROJECT_DIR / "stacks" / f"Pulumi.{example}.yaml").read_text(encoding="utf-8"))
    change(doc["config"])
    path = tmp_path / f"Pulumi.{example}-variant.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return str(path)


def test_cli_warns_where_a_platform_setting_changes_what_a_check_proves(
    capsys: pytest.CaptureFixture[str], fake_network: Callable[..., None], tmp_path: Path
) -> None:
    def warnings(*args: str) -> list[str]:
        assert _cli(*args, "--from", "admin-machine", "--format", "json") == 0
        return json.loads(capsys.readouterr().out)["warnings"]

    fake_network("10.20.0.10")
    assert warnings("--stack", "vsphere-example") == []
    audit = _variant(tmp_path, "vsphere-example", lambda c: c["eksa-firewall:vsphere"]["nsx"].update(mode="audit"))
    assert warnings("--stack-file", audit)[0].startswith("vsphere.nsx.mode is audit")
    off = _variant(tmp_path, "vsphere-example", lambda c: c["eksa-firewall:vsphere"]["nsx"].update(enabled=False))
    assert warnings("--stack-file", off)[0].startswith("vsphere.nsx.enabled is false")
    assert warnings("--stack", "snow-example")[0].startswith("aws.mode is snow: Snow's security groups filter")
    fake_network("10.40.0.10")
    assert warnings("--stack", "aws-region-example") == []
    fake_network("10.10.0.5")
    assert warnings("--stack", "nutanix-example") == [
        "the Flow policies of mgmt, prod are in MONITOR: Flow drops nothing there, so a reachable check does not show that a "
        "policy allows it (Flow's visualisation shows what ENFORCE would block). Probe again once they ENFORCE"
    ]
    one = _variant(
        tmp_path, "nutanix-example", lambda c: c["eksa-firewall:nutanix"].update(state="ENFORCE", clusterStates={"mgmt": "MONITOR"})
    )
    assert warnings("--stack-file", one)[0].startswith("the Flow policies of mgmt are in MONITOR")
    enforced = _variant(tmp_path, "nutanix-example", lambda c: c["eksa-firewall:nutanix"].update(state="ENFORCE", clusterStates={}))
    assert warnings("--stack-file", enforced) == []


def test_the_documented_contract_is_the_report() -> None:
    """docs/cli.md's eksa-firewall/probe/v1 example has the report's fields, at every level."""
    text = (PROJECT_DIR / "docs" / "cli.md").read_text(encoding="utf-8")
    block = text.split("### `--format json`: the `eksa-firewall/probe/v1` contract", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    documented = json.loads(block)
    r = _run("vsphere-example", "worker", _network("10.21.1.7"))
    doc = probe.report(r, stack="vsphere-example", platform="vsphere")
    assert list(documented) == list(doc)
    assert set(documented["summary"]) == set(doc["summary"])  # type: ignore[arg-type]
    for key in ("checks", "not_probed"):
        assert set(documented[key][0]) == set(doc[key][0]), key  # type: ignore[index]
    assert set(documented["checks"][0]["flow"]) == set(doc["checks"][0]["flow"])  # type: ignore[index]
    assert documented["not_probed"][0]["why"] == next(u for u in doc["not_probed"] if u["destination"] == "worker")["why"]  # type: ignore[attr-defined,index]
