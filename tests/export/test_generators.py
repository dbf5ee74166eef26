"""Aerleon 1.18.0 itself on the export: its generators render nftables, iptables, Juniper SRX, Palo Alto and Cisco
ASA with no warning, and its own model of the policy allows exactly the flows, on every platform's example stack
and on the variants (dual stack, external etcd, a workload cluster, moved ports, a segment, reject).

How Aerleon is called: see tests/export/common.py. The network team's way, the ``aclgen`` command on the written
directory, is run too and must give the same files as the Python API.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.export.aerleon import AerleonOptions, parse_segment, paths
from components.flows import FlowSet
from components.topology import Topology
from tests.environments import edit_cluster, merge
from tests.export.common import (
    GENERATORS,
    aerleon_warnings,
    allowed_boxes,
    differences,
    export_to,
    from_config,
    from_stack,
    generate,
    parse,
    required_boxes,
    write,
)
from tests.helpers import PROJECT_DIR


def _bm(make: str) -> Callable[[], tuple[Topology, FlowSet]]:
    def build() -> tuple[Topology, FlowSet]:
        from tests.baremetal import common

        return from_config(getattr(common, make)())

    return build


def _moved_ports() -> tuple[Topology, FlowSet]:
    from tests.baremetal.common import example_config

    lb = {"address": "203.0.113.200", "port": 8443}
    return from_config(edit_cluster(example_config(), "mgmt", controlPlane={"apiServerPort": 443, "loadBalancer": lb}))


def _vsphere_moved_ports() -> tuple[Topology, FlowSet]:
    """Custom etcd ports (external etcd) and API server port 443 on every cluster of the vSphere example."""
    from tests import environments

    cfg = environments.from_stack("vsphere-example")
    for name in [c["name"] for c in cfg["clusters"]]:
        etcd = {"etcd": {"clientPort": 12379, "peerPort": 12380}} if "etcd" in environments.cluster(cfg, name) else {}
        cfg = edit_cluster(cfg, name, controlPlane={"apiServerPort": 443}, **etcd)
    return from_config(cfg)


def _straddling() -> tuple[Topology, FlowSet]:
    from tests.baremetal.common import example_config

    cfg = example_config()
    cfg["clients"]["ssh"] = ["198.51.100.0/24"]
    cfg["clients"]["nodePort"] = ["198.51.100.0/24", "2001:db8:1::/64"]
    cfg["clusters"][0]["workerGroups"].append({"name": "md-1", "addresses": ["198.51.100.64/26", "2001:db8::21"]})
    cfg["allowOverlappingRoles"] = True  # that worker range holds the VIPs (.100, .101) too
    return from_config(cfg)


def _ssh_from_anywhere() -> tuple[Topology, FlowSet]:
    from tests.baremetal.common import ipv6_config

    return from_config(merge(ipv6_config(), {"clients": {"ssh": ["0.0.0.0/0", "::/0"]}, "allowSshFromAnywhere": True}))


STACKS = ("snow-example", "aws-region-example", "vsphere-example", "nutanix-example", "baremetal-example")
# name -> (topology and flows, segment, default action)
CASES: dict[str, tuple[Callable[[], tuple[Topology, FlowSet]], tuple[str, ...], str]] = {
    **{s: ((lambda s=s: from_stack(s)), (), "deny") for s in STACKS},
    "baremetal-dual-stack": (_bm("ipv6_config"), (), "deny"),
    "baremetal-external-etcd": (_bm("external_etcd_config"), (), "deny"),
    "baremetal-workload-cluster": (_bm("workload_cluster_config"), (), "reject"),
    "baremetal-moved-ports": (_moved_ports, (), "deny"),
    "vsphere-moved-ports": (_vsphere_moved_ports, (), "deny"),
    "baremetal-rack": ((lambda: from_stack("baremetal-example")), ("198.51.100.0/24",), "deny"),
    "baremetal-rack-reject": (_bm("workload_cluster_config"), ("198.51.100.0/24",), "reject"),
    "vsphere-segment": ((lambda: from_stack("vsphere-example")), ("10.20.0.0/16",), "deny"),
    "straddling-dual-stack": (_straddling, ("198.51.100.0/25", "2001:db8::/64"), "deny"),
    "ssh-from-anywhere": (_ssh_from_anywhere, (), "deny"),
    "ssh-from-anywhere-rack": (_ssh_from_anywhere, ("198.51.100.0/24", "2001:db8::/64"), "reject"),
}


def _export(tmp_path: Path, case: str) -> tuple[Path, Topology, FlowSet, AerleonOptions]:
    make, segment, action = CASES[case]
    topology, flows = make()
    options = AerleonOptions(name=f"eksa-{case}", segment=parse_segment(segment), default_action=action)
    return export_to(tmp_path, topology, flows, options), topology, flows, options


@pytest.mark.parametrize("case", sorted(CASES))
def test_aerleon_renders_every_target_without_a_warning(tmp_path: Path, case: str) -> None:
    root, _topology, _flows, options = _export(tmp_path, case)
    with aerleon_warnings() as found:
        out = generate(root)
    assert found == []
    assert sorted(out) == sorted(f"{options.name}{suffix}" for suffix in GENERATORS.values())
    assert all(len(text) > 500 for text in out.values()), {k: len(v) for k, v in out.items()}
    nft = out[f"{options.name}.nft"]
    assert ("hook forward" if options.segment else "hook input") in nft
    iptables = out[options.name]
    assert ("REJECT" in iptables) == (options.default_action == "reject")


@pytest.mark.parametrize("case", sorted(CASES))
def test_aerleon_allows_exactly_the_flows_on_every_target(tmp_path: Path, case: str) -> None:
    """Aerleon's model of the policy (its parser, its definitions, includes, platform and family selection)
    accepts exactly the flows' accesses; with a segment, exactly those across its edge. The ASA target is in the
    IPv4 filter only (Aerleon's ASA generator renders IPv4)."""
    root, topology, flows, options = _export(tmp_path, case)
    pol = parse(root)
    required = required_boxes(topology, flows, options.segment)
    assert required or options.segment
    for platform in GENERATORS:
        want = [b for b in required if platform != "ciscoasa" or b.version == 4]
        assert differences(want, allowed_boxes(pol, platform)) == [], platform


def test_a_large_environment_renders_without_a_warning(tmp_path: Path) -> None:
    """20 bare-metal clusters (tests/bench/generate.py: one management cluster, 19 workload clusters)."""
    from tests.bench.generate import case, generated_config

    topology, flows = from_config(generated_config(case("baremetal"), 20))
    options = AerleonOptions(name="eksa-large")
    with aerleon_warnings() as found:
        out = generate(export_to(tmp_path, topology, flows, options))
    assert found == []
    assert out["eksa-large.nft"].count("    chain ") > len(flows.flows)


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """A term missing, an address too many, or a term of the wrong family: the checks above see each."""
    root, topology, flows, options = _export(tmp_path, "baremetal-dual-stack")
    required = required_boxes(topology, flows)
    p = paths(options.name)
    terms_v4 = (root / p["ipv4"]).read_text(encoding="utf-8")
    networks = (root / p["networks"]).read_text(encoding="utf-8")

    # 1. the kubelet term of the workers is gone
    start = terms_v4.index("  - name: mgmt-cp-wk-tcp\n")
    end = terms_v4.index("  - name: ", start + 1)
    (root / p["ipv4"]).write_text(terms_v4[:start] + terms_v4[end:], encoding="utf-8")
    missing = differences(required, allowed_boxes(parse(root), "srx"))
    assert missing and all(m.startswith("missing: 198.51.100.1") for m in missing)
    assert any("tcp/10250" in m for m in missing)
    (root / p["ipv4"]).write_text(terms_v4, encoding="utf-8")

    # 2. one worker too many in the network
    more = networks.replace(
        '      - address: "198.51.100.21/32"\n', '      - address: "198.51.100.21/32"\n      - address: "198.51.100.29/32"\n'
    )
    (root / p["networks"]).write_text(more, encoding="utf-8")
    assert any(e.startswith("excess: ") and "198.51.100.29" in e for e in differences(required, allowed_boxes(parse(root), "nftables")))
    (root / p["networks"]).write_text(networks, encoding="utf-8")

    # 3. an IPv6-only term in the IPv4 filter: Aerleon warns (iptables renders a filter per family)
    v6_only = terms_v4.replace("source-address: EKSA_MGMT_WORKER\n", "source-address: EKSA_V6_ONLY\n", 1)
    (root / p["ipv4"]).write_text(v6_only, encoding="utf-8")
    (root / "def" / "extra.yaml").write_text(
        'networks:\n  EKSA_V6_ONLY:\n    values:\n      - address: "2001:db8::99/128"\n', encoding="utf-8"
    )
    with aerleon_warnings() as found:
        generate(root)
    assert any("WARNING" in w for w in found), found


def test_aclgen_on_the_exported_repository_gives_the_same_files(tmp_path: Path) -> None:
    """What the network team runs: ``aclgen`` in the repository the export wrote into (./def, ./policies)."""
    root, _topology, _flows, options = _export(tmp_path / "repo", "baremetal-dual-stack")
    aclgen = Path(sys.executable).with_name("aclgen")
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(aclgen), "--output_directory", str(out), "--max_renderers", "1"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rendered = {p.name: p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file()}
    assert rendered == generate(root)
    assert sorted(rendered) == sorted(f"{options.name}{suffix}" for suffix in GENERATORS.values())


def test_generate_sees_a_policy_of_its_own_next_to_the_export(tmp_path: Path) -> None:
    """A network team's own filter includes the exported terms under its own header (docs/export.md)."""
    root, topology, flows, options = _export(tmp_path, "baremetal-example")
    own: dict[str, Any] = {
        "filters": [
            {
                "header": {"targets": {"juniper": "edge-in inet", "arista": "edge-in", "cisco": "edge-in"}},
                "terms": [{"include": f"includes/{options.name}-ipv4.yaml"}, {"name": "deny-rest", "action": "deny"}],
            }
        ]
    }
    import yaml

    (root / paths(options.name)["policy"]).unlink()
    write({"policies/pol/edge.yaml": yaml.safe_dump(own, sort_keys=False)}, root)
    with aerleon_warnings() as found:
        out = generate(root)
    assert found == []
    assert sorted(out) == ["edge.acl", "edge.eacl", "edge.jcl"]
    assert differences(required_boxes(topology, flows), allowed_boxes(parse(root), "juniper")) == []


def test_the_export_runs_without_aerleon_on_the_path(tmp_path: Path) -> None:
    """The optional `export` extra is for rendering; writing the files needs nothing but the project."""
    code = "import sys; sys.modules['aerleon'] = None\nfrom components.cli import main\nsys.exit(main(['export', '--stack', 'baremetal-example', '-o', sys.argv[1]]))\n"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "policies" / "pol" / "eksa-baremetal-example.yaml").exists()
