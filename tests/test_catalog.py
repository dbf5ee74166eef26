"""The catalog against the EKS Anywhere ports page (tests/fixtures/eks-anywhere-ports-and-protocols.txt).

The fixture is a verbatim copy of the page as the user handed it to us. Every table row of the page must be
in the catalog, unaltered, under the right table; the catalog must claim no page row the page lacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from components.catalog import CATALOG_TOML, DESTINATIONS, SOURCES, load_catalog, parse_catalog
from components.errors import CatalogError
from tests.helpers import FIXTURES

PAGE = FIXTURES / "eks-anywhere-ports-and-protocols.txt"
HEADER = "Protocol Direction Port Range Purpose Used By"
ROW = re.compile(r"^(TCP|UDP) (Inbound|Outbound) ([0-9][0-9,\-]*) (.+)$")
# The page's tables in order, as the catalog names them.
PAGE_TABLES = ["control-plane", "etcd", "ssh", "workers", "ssh", "bare-metal", "vsphere", "nutanix", "snow", "management-tools"]
SECTIONS = (
    "Kubernetes control plane",
    "Kubernetes worker nodes",
    "Bare Metal provider",
    "VMware provider",
    "Nutanix provider",
    "Snow provider",
    "Control plane management tools",
)


@dataclass(frozen=True)
class PageTable:
    section: str
    lines: tuple[str, ...]


def page_tables() -> list[PageTable]:
    tables: list[PageTable] = []
    section = ""
    current: list[str] | None = None
    for raw in PAGE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line in SECTIONS:
            section = line
        if line == HEADER:
            current = []
            tables.append(PageTable(section, ()))
            continue
        if current is not None and ROW.match(line):
            current.append(line)
            tables[-1] = PageTable(section, tuple(current))
        elif current is not None and line:
            current = None
    return tables


def test_the_fixture_is_the_page_we_were_given() -> None:
    # A few anchors, so that a truncated or edited fixture cannot make the comparison vacuous.
    text = PAGE.read_text(encoding="utf-8")
    assert text.startswith("Ports and protocols")
    assert "TCP Inbound 8242 EC2 HTTPS endpoint EKS Anywhere and CAPAS controller" in text
    tables = page_tables()
    assert len(tables) == len(PAGE_TABLES)
    assert sum(len(t.lines) for t in tables) == 31


def test_every_page_row_is_in_the_catalog_unaltered_in_order() -> None:
    catalog = load_catalog()
    page_rows = [r for r in catalog if r.origin == "page"]
    expected: list[tuple[str, str, str]] = []
    for table, name in zip(page_tables(), PAGE_TABLES, strict=True):
        expected += [(table.section, name, line) for line in table.lines]
    actual = [(r.section, r.table, r.page_line) for r in page_rows]
    missing = [e for e in expected if e not in actual]
    invented = [a for a in actual if a not in expected]
    assert not missing, f"page rows missing or altered in the catalog: {missing}"
    assert not invented, f"catalog rows claimed from the page that the page lacks: {invented}"
    assert actual == expected  # same multiplicity, same order as the page


def test_rows_beyond_the_page_cite_their_source_and_are_the_known_ones() -> None:
    beyond = {r.id: r for r in load_catalog() if r.origin == "upstream"}
    assert set(beyond) == {
        "bm-syslog", "bm-smee-http", "bm-tootles", "bm-rufio-ipmi-udp", "snow-ec2-https",
        "cilium-geneve", "cilium-health", "cilium-icmp-echo",
        "metrics-server-kubelet", "metallb-memberlist-tcp", "metallb-memberlist-udp", "metallb-bgp",
        "prometheus-node-exporter", "prometheus-cilium-agent", "prometheus-cilium-operator", "hubble-relay-peers", "kube-vip-bgp",
    }  # fmt: skip
    for row in beyond.values():
        assert row.citation, row.id
    assert (beyond["bm-syslog"].protocol, beyond["bm-syslog"].ports_text) == ("udp", "514")
    assert (beyond["bm-smee-http"].ports_text, beyond["bm-smee-http"].since) == ("7171", (0, 22))
    assert (beyond["bm-tootles"].ports_text, beyond["bm-tootles"].since) == ("7172", (0, 25))
    assert (beyond["bm-rufio-ipmi-udp"].protocol, beyond["bm-rufio-ipmi-udp"].ports_text) == ("udp", "623")
    assert beyond["snow-ec2-https"].ports_text == "8243"
    assert {beyond[c].protocol for c in ("cilium-geneve", "cilium-health", "cilium-icmp-echo")} == {"udp", "tcp", "icmp"}


def test_hegel_ends_where_tootles_starts_and_the_8242_erratum_opens_nothing() -> None:
    catalog = load_catalog()
    assert catalog["bm-hegel"].until == catalog["bm-tootles"].since == (0, 25)
    erratum = catalog["snow-ec2-https-page"]
    assert (erratum.ports_text, erratum.when, erratum.superseded_by) == ("8242", "never", "snow-ec2-https")
    assert erratum.citation


def test_used_by_has_a_machine_meaning_for_every_row() -> None:
    for row in load_catalog():
        assert row.sources and set(row.sources) <= set(SOURCES), row.id
        assert row.destinations and set(row.destinations) <= set(DESTINATIONS), row.id
        if "Self" in row.used_by:
            assert row.sources[0] == "self", row.id
        if row.used_by == "Self":
            assert row.local_only, row.id


def test_sensitive_rows_are_etcd_kubelet_scheduler_and_controller_manager() -> None:
    sensitive = {r.id for r in load_catalog() if r.sensitive}
    assert {"cp-kubelet", "worker-kubelet", "cp-kube-scheduler", "cp-kube-controller-manager", "etcd-server"} <= sensitive
    assert all(load_catalog()[i].ports_text in ("10250", "10259", "10257", "2379-2380", "2379", "2380") for i in sensitive)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.replace('id = "cp-kubelet"', 'id = "cp-kube-apiserver"'), "duplicate row ids"),
        (lambda s: s.replace('sources = ["self", "control-plane"]', 'sources = ["everyone"]', 1), "unknown words"),
        (
            lambda s: s.replace(
                'origin = "upstream"\nprotocol = "UDP"\ndirection = "Inbound"\nports = "514"',
                'origin = "upstream"\nprotocol = "UDP"\ndirection = "Inbound"\nports = "514"\nbogus = 1',
            ),
            "unknown fields",
        ),
        (lambda s: s.replace('citation = "Current EKS-A ports page', 'cite = "Current EKS-A ports page'), "unknown fields"),
        (lambda s: s.replace('ports = "6443"', 'ports = "6443-"', 1), "not a port"),
        (lambda s: s.replace('when = "cilium"', 'when = "sometimes"', 1), "when must be"),
    ],
)
def test_inconsistent_catalog_data_is_refused(edit, message) -> None:
    from importlib import resources

    text = resources.files("components").joinpath("data/ports.toml").read_text(encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        parse_catalog(edit(text))


def test_programs_load_the_toml_people_edit() -> None:
    assert load_catalog() == parse_catalog(CATALOG_TOML.read_text(encoding="utf-8"))
