"""The probe command's parts, against loopback only (the lab tests run it for real between namespaces)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from components.baremetal.probe import Target, probe_tcp, probe_udp, run_probes, targets
from components.cli import main
from tests.baremetal.common import plan, plan_example, workload_cluster_config
from tests.helpers import PROJECT_DIR


def test_targets_for_worker() -> None:
    p = plan_example()
    items, notes = targets(p.topology, p.flows, "worker")
    assert notes == []
    keys = {(t.destination, t.address, t.protocol, t.port) for t in items}
    assert ("control-plane-vip", "198.51.100.101", "tcp", 6443) in keys
    assert ("tinkerbell-vip", "198.51.100.100", "tcp", 7171) in keys and ("tinkerbell-vip", "198.51.100.100", "tcp", 7172) in keys
    assert ("worker", "198.51.100.22", "tcp", 30000) in keys and ("worker", "198.51.100.22", "tcp", 32767) in keys  # range ends
    assert ("bmc", "203.0.113.11", "udp", 623) in keys
    assert not any(t.port in (2379, 10257, 10259, 22) for t in items)


def test_targets_note_ranges_instead_of_probing_them() -> None:
    p = plan(workload_cluster_config())
    items, notes = targets(p.topology, p.flows, "control-plane", "prod")
    assert "worker 198.51.100.160/28 (tcp 4240|10250|30000-32767): a range, not probed" in notes
    assert items and all(t.cluster == "prod" for t in items)
    assert not any(t.destination == "worker" for t in items)


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
    assert probe_tcp("127.0.0.1", tcp_listener, 2.0) == ("open", True)
    assert probe_tcp("127.0.0.1", _free_port(socket.SOCK_STREAM), 2.0) == ("refused: reachable, nothing listening", True)


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
        assert probe_udp("127.0.0.1", port, 2.0) == ("answered", True)
        t.join(timeout=5)
        # Bound but silent: a port that never answers a stray datagram is "sent", neither pass nor fail.
        assert probe_udp("127.0.0.1", port, 0.2) == ("sent, no answer expected", None)
    assert probe_udp("127.0.0.1", _free_port(socket.SOCK_DGRAM), 2.0) == ("refused: reachable, nothing listening", True)


def test_udp_port_that_should_answer_fails_when_silent() -> None:
    """TFTP (69) answers a read request; silence there is a failure. A silent listener stands in for a drop."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as srv:
        srv.bind(("127.0.0.2", 69))
        assert probe_udp("127.0.0.2", 69, 0.2) == ("no answer (blocked, or the service is down)", False)


def test_deadline_bounds_the_run() -> None:
    """With a deadline shorter than one probe, the rest is reported as not probed, and counts as failed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as srv:
        srv.bind(("127.0.0.1", 0))
        port = srv.getsockname()[1]
        items = [Target(cluster="c", destination="x", address="127.0.0.1", protocol="udp", port=port, rows=("r",)) for _ in range(4)]
        results = run_probes(items, timeout=0.5, deadline=0.05, parallel=1)
    assert len(results) == 4
    assert any(r.status == "not probed before the deadline" and r.ok is False for r in results)


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["probe", "--stack", "baremetal-example", "--project-dir", str(PROJECT_DIR)]
    assert main([*base, "--from", "dhcp-clients"]) == 2
    assert (
        "no required flow starts there; choose one of admin-machine, api-clients, control-plane, nodeport-clients, ssh-clients, worker"
        in capsys.readouterr().err
    )
    assert main([*base, "--from", "worker", "--cluster", "nope"]) == 2
    with pytest.raises(SystemExit):
        main([*base, "--from", "worker", "--timeout", "0"])


def test_json_output_shape(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's report, with the network replaced by a fake that blocks 6443 (no packet leaves)."""
    from components.baremetal import probe as probe_module

    def fake(t: Target, timeout: float, source: str | None = None) -> probe_module.Result:
        blocked = t.port == 6443
        return probe_module.Result(target=t, status="blocked (fake)" if blocked else "open", ok=not blocked)

    monkeypatch.setattr(probe_module, "probe_one", fake)
    monkeypatch.setattr(probe_module, "_local_source", lambda address: "198.51.100.21")
    code = main(["probe", "--stack", "baremetal-example", "--project-dir", str(PROJECT_DIR), "--from", "worker", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["ok"] is False and doc["warnings"] == []
    assert {(r["address"], r["port"]) for r in doc["results"] if r["ok"] is False} == {
        ("198.51.100.11", 6443), ("198.51.100.12", 6443), ("198.51.100.13", 6443), ("198.51.100.101", 6443),
    }  # fmt: skip
    assert any(r["status"] == "skipped: this machine itself" for r in doc["results"])
    monkeypatch.setattr(probe_module, "_local_source", lambda address: "10.9.9.9")
    main(["probe", "--stack", "baremetal-example", "--project-dir", str(PROJECT_DIR), "--from", "worker"])
    out = capsys.readouterr().out
    assert "warning: this machine sends from 10.9.9.9, which is not an address of worker" in out
    assert "FAILED: 4 required port(s) blocked" in out
