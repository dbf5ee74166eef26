"""Aerleon's nftables output of the export, with real packets, in the bare-metal lab (tests/baremetal/lab.py).

The export of the example stack (and its external-etcd variant) goes through Aerleon's nftables generator; the
one ruleset it renders (an input filter of every flow, address level) is loaded with the real ``nft`` on every
machine of the lab. Then exactly the probes of tests/baremetal/test_lab.py for our own rulesets: every required
flow gets through, every probe of the grid of non-required (source, destination, port) combinations is blocked.

Not probed here: the DHCPDISCOVER broadcast from 0.0.0.0 to 255.255.255.255. The export's terms are address
level (0.0.0.0/32 to the DHCP server's address): a routed firewall sees a relayed DHCP packet, never the
broadcast (docs/export.md). The lab tier (marked ``lab``): needs root, ``ip`` and ``nft``, and without them these
tests fail with the reason.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.baremetal.hosts import host_roles
from components.export.aerleon import AerleonOptions, parse_segment
from components.flows import expand
from tests.baremetal.common import example_config, external_etcd_config, ipv6_config, plan, workload_cluster_config
from tests.baremetal.lab import Lab, build_hosts
from tests.baremetal.test_lab import (
    BLOCKED_TIMEOUT,
    PASS,
    RETRY_TIMEOUT,
    SAMPLE_TCP,
    SAMPLE_UDP,
    _ends,
    _failures,
    blocked_probes,
    required_probes,
)
from tests.export.common import aerleon_warnings, export_to, generate
from tests.helpers import Planned

pytestmark = pytest.mark.lab

VARIANTS = {"example": example_config, "external-etcd": external_etcd_config}


def aerleon_nftables(planned: Planned, workdir: Path, **options: Any) -> str:
    root = export_to(workdir, planned.topology, planned.flows, AerleonOptions(name="eksa-lab", **options))
    with aerleon_warnings() as found:
        out = generate(root)
    assert found == []
    return out["eksa-lab.nft"]


def _nft_check(text: str) -> subprocess.CompletedProcess[str]:
    """The kernel's verdict on ``text`` (a test calling this asks for the ``lab_host`` fixture)."""
    return subprocess.run(["nft", "-c", "-f", "-"], input=text, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("make", [example_config, external_etcd_config, workload_cluster_config, ipv6_config])
def test_aerleon_nftables_output_passes_nft_check(tmp_path: Path, make: Any, lab_host: None) -> None:
    planned = plan(make())
    for i, options in enumerate(({}, {"default_action": "reject"}, {"segment": parse_segment(["198.51.100.0/24"])})):
        text = aerleon_nftables(planned, tmp_path / str(i), **options)
        proc = _nft_check(text)
        assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def aerleon_lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, lab_host: None) -> Iterator[tuple[Planned, Lab]]:
    planned = plan(VARIANTS[request.param]())
    nft = aerleon_nftables(planned, tmp_path_factory.mktemp(f"aerleon-{request.param}"))
    lab = Lab(build_hosts(planned.topology, {role.key: nft for role in host_roles(planned.topology)}))
    try:
        lab.start()
        lab.load_rulesets()
        accesses = expand(planned.topology, planned.flows.flows)
        tcp = sorted({p for a in accesses if a.protocol == "tcp" for p in _ends(a.ports)} | set(SAMPLE_TCP))
        udp = sorted({p for a in accesses if a.protocol == "udp" for p in _ends(a.ports)} | set(SAMPLE_UDP))
        for h in lab.hosts:
            if h.role not in ("outside", "pxe", "pod"):
                lab.listen(h, tcp, udp)
        yield planned, lab
    finally:
        lab.close()


def test_the_lab_runs_aerleons_ruleset(aerleon_lab: tuple[Planned, Lab]) -> None:
    _planned, lab = aerleon_lab
    for h in lab.hosts:
        if h.ruleset is not None:
            assert lab.firewall_tables(h) == ["table ip filtering_policies"], h.name
            assert "policy drop" in lab.nft(h, "list", "chain", "ip", "filtering_policies", "root0")


def test_every_required_flow_gets_through_aerleons_ruleset(aerleon_lab: tuple[Planned, Lab]) -> None:
    planned, lab = aerleon_lab
    batches = required_probes(lab, planned)
    assert sum(len(b) for b in batches.values()) > 50
    results = lab.probe_many(batches)
    failed = [r for r in results if r["status"] not in PASS[r["protocol"]]]
    if failed:  # one retry with a longer timeout, as for our own rulesets
        retry: dict[str, list[dict[str, Any]]] = {}
        for r in failed:
            retry.setdefault(r.pop("from"), []).append(
                {**{k: v for k, v in r.items() if k not in ("status", "ok")}, "timeout": RETRY_TIMEOUT}
            )
        results = lab.probe_many(retry)
    assert not _failures(results, want_pass=True), "required flows that did not get through:\n" + "\n".join(
        _failures(results, want_pass=True)
    )


def test_every_probed_non_required_port_is_blocked_by_aerleons_ruleset(aerleon_lab: tuple[Planned, Lab]) -> None:
    planned, lab = aerleon_lab
    batches = blocked_probes(lab, planned)
    probes = [p for b in batches.values() for p in b]
    assert len(probes) > 1000
    results = lab.probe_many(batches)
    assert len(results) == len(probes)
    leaks = _failures(results, want_pass=False)
    assert not leaks, "non-required probes that got through:\n" + "\n".join(leaks)


def test_the_probes_see_a_missing_term(aerleon_lab: tuple[Planned, Lab]) -> None:
    """Not vacuous: empty the term that lets the workers reach the API server, and their probes of 6443 fail."""
    planned, lab = aerleon_lab
    cps = [h for h in lab.hosts if h.role == "control-plane"]
    worker = lab.host("w1")
    batch = [p for p in required_probes(lab, planned)["w1"] if p["port"] == 6443 and p["protocol"] == "tcp"]
    assert batch and all(p["source"] == str(worker.addresses[0].network_address) for p in batch)
    try:
        for h in cps:
            lab.nft(h, "flush", "chain", "ip", "filtering_policies", "mgmt-wk-cp-tcp")
        results = lab.probe_many({"w1": [{**p, "timeout": BLOCKED_TIMEOUT} for p in batch]})
        blocked = {r["destination"] for r in results if r["status"] not in PASS["tcp"]}
        assert blocked == {str(h.addresses[0].network_address) for h in cps}  # the VIP has its own term
    finally:
        for h in cps:
            lab.nft(h, "delete", "table", "ip", "filtering_policies")
            lab.nft(h, "-f", "-", stdin=h.ruleset)
