"""``eksa-firewall diff``: golden Markdown for plans that differ by one known change, plus the rules behind it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from components.cli import main
from components.diff import REPLACE_ON, diff_plans, exposures, render_markdown, short_type

from .golden import UPDATE, check_golden
from .mermaid_grammar import check as check_mermaid
from .scenarios import dump, fixture_paths, scenarios

GOLDEN = Path(__file__).resolve().parent / "golden"
SCENARIOS = scenarios()


def _run_cli(base: Path, head: Path, out: Path, *extra: str) -> int:
    return main(["diff", str(base), str(head), "--output", str(out), *extra])


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fixture_plans_are_what_the_builders_make(name: str) -> None:
    base, head = SCENARIOS[name]
    base_path, head_path = fixture_paths(name)
    check_golden(base_path, dump(base))
    check_golden(head_path, dump(head))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_diff_markdown_golden(name: str, tmp_path: Path) -> None:
    base_path, head_path = fixture_paths(name)
    out = tmp_path / "diff.md"
    assert _run_cli(base_path, head_path, out) == 0
    text = out.read_text(encoding="utf-8")
    check_golden(GOLDEN / f"{name}.md", text)
    for block in text.split("```mermaid\n")[1:]:
        assert check_mermaid(block.split("```")[0]) == []


def _diff(name: str) -> Any:
    base, head = SCENARIOS[name]
    return diff_plans(base, head)


def test_no_change_is_quiet() -> None:
    d = _diff("no-change")
    assert (d.flows, d.resources, d.new_exposures, d.dangerous) == ([], [], [], False)
    text = render_markdown(d)
    assert "[!CAUTION]" not in text and "[!WARNING]" not in text
    assert text.endswith("No change: 27 resources and every flow as in the base.\n")


def test_a_new_ssh_range_changes_rules_not_flows() -> None:
    # Flows name endpoints ("ssh-clients"), not addresses: a new range adds rules, not flows.
    d = _diff("ssh-range-added")
    assert d.flows == []
    assert {c.kind for c in d.resources} == {"create"}
    assert all("192.168.50.0-24" in c.name or "192.168.50.0/24" in c.name for c in d.resources)
    assert not d.dangerous


def test_jenkins_adds_flows_only() -> None:
    d = _diff("jenkins-enabled")
    assert d.flows and {f.sign for f in d.flows} == {"+"}
    assert {"jenkins", "jenkins-clients"} & {f.source for f in d.flows}
    assert {c.kind for c in d.resources} == {"create"}


def test_api_open_to_the_internet_is_loud() -> None:
    d = _diff("api-open-to-internet")
    assert {(e.path, e.type) for e in d.new_exposures} == {
        ("cidrIpv4", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
        ("cidrIpv6", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
    }
    assert all("6443" in e.context for e in d.new_exposures)
    assert d.kept_exposures == 0  # the security groups' egress to 0.0.0.0/0 is outbound: not an exposure
    text = render_markdown(d)
    assert text.index("[!WARNING]") < text.index("**Flows:**")  # the warning comes first
    assert "OPEN TO ANYWHERE" in text
    # Judged on the peer's ranges too, not only on the rules: api-clients is anywhere in both families.
    assert {(x.destination, x.families) for x in d.new_peer_exposures} == {("control-plane", (4, 6)), ("control-plane-vip", (4, 6))}


def test_removing_workers_removes_flows_and_deletes_rules() -> None:
    d = _diff("workers-removed")
    assert d.flows and {f.sign for f in d.flows} == {"-"}
    assert {f.role for f in d.flows} >= {"worker"}
    deleted = {c.name for c in d.resources if c.kind == "delete"}
    assert "eksa-mgmt-worker" in deleted
    assert {c.kind for c in d.resources} == {"delete"}


def test_workload_cluster_flows_are_grouped_under_their_cluster() -> None:
    d = _diff("workload-cluster-added")
    assert {f.cluster for f in d.flows} == {"prod-1"}
    assert any(f.ports == "443" and f.destination == "control-plane" for f in d.flows)
    assert "#### cluster `prod-1`" in render_markdown(d)


def test_security_group_description_change_is_a_replacement() -> None:
    d = _diff("security-group-description-changed")
    assert [(c.kind, c.name, c.reasons) for c in d.resources] == [("replace", "eksa-mgmt-worker", ("description",))]
    text = render_markdown(d)
    assert text.startswith("## eksa-firewall diff") and "> [!CAUTION]" in text and "WILL BE REPLACED" in text


def test_security_group_tag_change_is_an_update() -> None:
    d = _diff("security-group-tags-changed")
    assert {c.kind for c in d.resources} == {"update"}
    assert all(c.changed == ("tags",) for c in d.resources)
    assert not d.dangerous


def test_a_renamed_rule_is_a_replacement_that_asks_for_an_alias() -> None:
    d = _diff("rule-renamed")
    assert len(d.resources) == 1
    change = d.resources[0]
    assert change.kind == "replace" and change.name == "eksa-mgmt-admin-to-cp-6443"
    assert "aliases" in change.reasons[0]


def test_a_hand_made_ssh_rule_from_anywhere_is_loud() -> None:
    d = _diff("hand-made-ssh-from-anywhere")
    assert [(e.name, e.path) for e in d.new_exposures] == [("debug-ssh", "cidrBlocks[]")]


# --- rules ------------------------------------------------------------------------------------------


def _doc(resources: list[dict[str, Any]], flows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"schema": "eksa-firewall/plan/v1", "project": "p", "stack": "s", "resources": resources, "outputs": {},
            "flows": flows or [], "local_only": []}  # fmt: skip


def _res(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:s::p::{type_}::{name}", "type": type_, "name": name, "id": None, "parent": None, "inputs": inputs}


SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"


@pytest.mark.parametrize(
    ("change", "kind"),
    [({"description": "new words"}, "update"), ({"fromPort": 23, "toPort": 23}, "replace"), ({"cidrBlocks": ["10.9.0.0/16"]}, "replace")],
)
def test_security_group_rule_replaces_on_everything_but_description(change: dict[str, Any], kind: str) -> None:
    before = {"type": "ingress", "fromPort": 22, "toPort": 22, "protocol": "tcp", "cidrBlocks": ["10.0.0.0/8"], "description": "ssh"}
    d = diff_plans(_doc([_res(SG_RULE, "r", before)]), _doc([_res(SG_RULE, "r", {**before, **change})]))
    assert [c.kind for c in d.resources] == [kind]


def test_an_unknown_type_is_an_update_flagged_for_the_preview() -> None:
    d = diff_plans(_doc([_res("acme:index:Wall", "w", {"a": 1})]), _doc([_res("acme:index:Wall", "w", {"a": 2})]))
    assert [(c.kind, c.known_type) for c in d.resources] == [("update", False)]
    assert "not in the replace table" in render_markdown(d)


def test_every_replace_rule_names_its_source() -> None:
    assert all(rule.source for rule in REPLACE_ON.values())


def test_ports_are_compared_as_sets() -> None:
    flow = {"cluster": "c", "source": "api-clients", "destination": "control-plane", "protocol": "tcp", "rows": ["cp-kube-apiserver"]}
    d = diff_plans(_doc([], [{**flow, "ports": "6443"}]), _doc([], [{**flow, "ports": "6443|8443"}]))
    assert [(f.sign, f.ports, f.role) for f in d.flows] == [("+", "8443", "control-plane")]
    d = diff_plans(_doc([], [{**flow, "ports": "2379-2380"}]), _doc([], [{**flow, "ports": "2379"}]))
    assert [(f.sign, f.ports) for f in d.flows] == [("-", "2380")]


NUTANIX_POLICY = "nutanix:index/networkSecurityPolicyV2:NetworkSecurityPolicyV2"


def _nutanix(side: str) -> dict[str, Any]:
    spec = {
        "securedGroupCategoryReferences": ["cat"],
        side: [{"value": "0.0.0.0", "prefixLength": 0}],
        "tcpServices": [{"startPort": 22, "endPort": 22}],
    }
    return _res(
        NUTANIX_POLICY,
        "p",
        {"name": "p", "state": "ENFORCE", "rules": [{"type": "APPLICATION", "specs": [{"applicationRuleSpecs": [spec]}]}]},
    )


@pytest.mark.parametrize(
    ("resource", "exposed"),
    [
        (_nutanix("srcSubnets"), True),
        (_nutanix("destSubnets"), False),
        (_res("command:remote:Command", "nft", {"create": "nft -f - <<EOF\nip saddr 0.0.0.0/0 tcp dport 22 accept\nEOF"}), True),
        # A /0 is the whole family whatever address is written before it (nft masks the host bits).
        (_res("command:remote:Command", "nft", {"create": "ip saddr 10.0.0.0/0 tcp dport 22 accept"}), True),
        (_res("command:remote:Command", "nft", {"create": "ip6 saddr fe80::/0 accept"}), True),
        (_res("command:remote:Command", "nft", {"create": "ip saddr 10.0.0.0/8 tcp dport 22 accept\nip6 saddr fe80::/10 accept"}), False),
        # Two halves in one rule are the whole Internet; each alone is half of it (above the share: anywhere too).
        (_res(SG_RULE, "r", {"type": "ingress", "cidrBlocks": ["0.0.0.0/1", "128.0.0.0/1"], "fromPort": 22, "toPort": 22}), True),
        (_res(SG_RULE, "r", {"type": "ingress", "cidrBlocks": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], "fromPort": 22}), False),
        (_res("command:remote:Command", "nft", {"create": "ip saddr { 0.0.0.0/2, 64.0.0.0/2 } tcp dport 2379 accept"}), True),
        (_res(SG_RULE, "r", {"type": "egress", "cidrBlocks": ["0.0.0.0/0"], "fromPort": 0, "toPort": 0, "protocol": "-1"}), False),
        (_res(SG_RULE, "r", {"type": "ingress", "ipv6CidrBlocks": ["::/0"], "fromPort": 22, "toPort": 22, "protocol": "tcp"}), True),
        (
            _res(
                "aws:ec2/securityGroup:SecurityGroup", "g", {"ingress": [{"cidrBlocks": ["0.0.0.0/0"], "fromPort": 10250, "toPort": 10250}]}
            ),
            True,
        ),
        (_res("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "e", {"cidrIpv4": "0.0.0.0/0"}), False),
    ],
)
def test_internet_exposure(resource: dict[str, Any], exposed: bool) -> None:
    assert bool(exposures(_doc([resource]))) is exposed


def test_an_exposure_already_in_base_is_not_new_but_a_changed_rule_is() -> None:
    base = _nutanix("srcSubnets")
    same = diff_plans(_doc([base]), _doc([copy.deepcopy(base)]))
    assert (same.new_exposures, same.kept_exposures) == ([], 1)
    widened = copy.deepcopy(base)
    widened["inputs"]["rules"][0]["specs"][0]["applicationRuleSpecs"][0]["tcpServices"].append({"startPort": 10250, "endPort": 10250})
    assert len(diff_plans(_doc([base]), _doc([widened])).new_exposures) == 1


@pytest.mark.parametrize(
    ("token", "short"),
    [
        ("aws:ec2/securityGroupRule:SecurityGroupRule", "aws.ec2.SecurityGroupRule"),
        ("vsphere:index/tag:Tag", "vsphere.Tag"),
        ("pulumi-python:dynamic/nsx:Rule", "nsx.Rule (dynamic)"),
        ("pulumi-python:dynamic:Resource", "Resource (dynamic)"),
        ("eksa-firewall:index:AwsFirewall", "eksa-firewall.AwsFirewall"),
    ],
)
def test_short_type(token: str, short: str) -> None:
    assert short_type(token) == short


# --- command line -----------------------------------------------------------------------------------


def test_fail_on_danger_sets_the_exit_code(tmp_path: Path) -> None:
    base, head = fixture_paths("security-group-description-changed")
    assert _run_cli(base, head, tmp_path / "a.md", "--fail-on-danger") == 1
    base, head = fixture_paths("security-group-tags-changed")
    assert _run_cli(base, head, tmp_path / "b.md", "--fail-on-danger") == 0


def test_a_new_stack_diffs_against_nothing(tmp_path: Path) -> None:
    _, head = fixture_paths("no-change")
    out = tmp_path / "new.md"
    assert _run_cli(tmp_path / "absent.json", head, out, "--allow-missing") == 0
    text = out.read_text(encoding="utf-8")
    assert "0 to update, 0 to replace, 0 to delete" in text and "0 removed" in text and "27 to create" in text


def test_a_file_that_is_not_a_plan_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "something/else"}), encoding="utf-8")
    _, head = fixture_paths("no-change")
    assert _run_cli(bad, head, tmp_path / "x.md") == 2
    assert "expected 'eksa-firewall/plan/v1'" in capsys.readouterr().err
    assert _run_cli(tmp_path / "absent.json", head, tmp_path / "x.md") == 2


def test_goldens_are_not_being_rewritten_in_ci() -> None:
    import os

    assert not (UPDATE and os.environ.get("CI")), "UPDATE_GOLDEN=1 in CI would make every golden test pass"


NSX_POLICY = "pulumi-python:dynamic/nsx:SecurityPolicy"


@pytest.mark.parametrize(
    ("change", "kind", "reasons"),
    [
        ({"body": {"rules": []}}, "update", ()),
        ({"connection": {"host": "nsx.example", "port": 443, "username": "other"}}, "update", ()),
        ({"connection": {"host": "nsx2.example", "port": 443, "username": "admin"}}, "replace", ("connection.host",)),
        ({"path": "/infra/domains/default/security-policies/x"}, "replace", ("path",)),
    ],
)
def test_nsx_dynamic_resources_replace_on_path_and_manager(change: dict[str, Any], kind: str, reasons: tuple[str, ...]) -> None:
    before = {"path": "/infra/domains/default/security-policies/eksa-mgmt", "body": {"rules": [1]},
              "connection": {"host": "nsx.example", "port": 443, "username": "admin"}, "revision": None}  # fmt: skip
    d = diff_plans(_doc([_res(NSX_POLICY, "p", before)]), _doc([_res(NSX_POLICY, "p", {**before, **change})]))
    assert [(c.kind, c.reasons) for c in d.resources] == [(kind, reasons)]


def test_our_components_are_updated_never_flagged() -> None:
    t = "eksa-firewall:index:NftablesRuleset"
    d = diff_plans(_doc([_res(t, "n", {"ruleset": "a"})]), _doc([_res(t, "n", {"ruleset": "b"})]))
    assert [(c.kind, c.known_type) for c in d.resources] == [("update", True)]
