"""The component under Pulumi's mocks: what it registers, its outputs, its names, its secrets."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from components.engine import run_program
from components.errors import ConfigError
from components.vsphere import interpret
from components.vsphere.component import tag_urn
from tests.environments import add_cluster, cluster_config, environment
from tests.helpers import plan_config, plan_stack

SECRET = "Sup3r-S3cret-NSX-pw"
NSX_TYPES = (interpret.GROUP_TYPE, interpret.SERVICE_TYPE, interpret.POLICY_TYPE)


def test_example_stack_registers_tags_groups_services_and_one_policy_per_cluster() -> None:
    run = plan_stack("vsphere-example").run
    by_type: dict[str, list[str]] = {}
    for r in run.resources:
        by_type.setdefault(r.type, []).append(r.name)
    assert by_type["vsphere:index/tagCategory:TagCategory"] == ["eksa-tag-category"]
    assert sorted(by_type["vsphere:index/tag:Tag"]) == [
        "eksa-tag-mgmt-control-plane", "eksa-tag-mgmt-worker", "eksa-tag-prod-control-plane", "eksa-tag-prod-etcd", "eksa-tag-prod-worker",
    ]  # fmt: skip
    assert sorted(by_type[interpret.POLICY_TYPE]) == ["eksa-nsx-policy-mgmt", "eksa-nsx-policy-prod"]
    assert {interpret.GROUP_TYPE, interpret.SERVICE_TYPE} <= set(by_type)
    component = next(r for r in run.resources if r.type == "eksa-firewall:index:VSphereFirewall")
    assert all(r.parent == component.urn for r in run.resources if r is not component)
    category = next(r for r in run.resources if r.type == "vsphere:index/tagCategory:TagCategory")
    assert category.inputs["associableTypes"] == ["VirtualMachine"]
    assert category.inputs["cardinality"] == "SINGLE"


def test_outputs_give_tag_urns_per_role_and_nsx_paths() -> None:
    outputs = plan_stack("vsphere-example").run.outputs
    tags = outputs["vsphereRoleTags"]
    assert set(tags) == {"mgmt", "prod"}
    assert set(tags["prod"]) == {"control-plane", "etcd", "worker"}
    for urn in (u for roles in tags.values() for u in roles.values()):
        assert re.fullmatch(r"urn:vmomi:InventoryServiceTag:[0-9a-f-]+:GLOBAL", urn)
    assert outputs["nsxPolicyPaths"]["prod"] == "/infra/domains/default/security-policies/eksa-dc1-prod"
    assert outputs["nsxGroupPaths"]["prod-etcd"] == "/infra/domains/default/groups/eksa-dc1-prod-etcd"
    assert all(p.startswith("/infra/services/eksa-dc1-") for p in outputs["nsxServicePaths"].values())
    assert outputs["nsxMode"] == "enforce"


def test_tag_urn_keeps_the_providers_id_and_wraps_anything_else() -> None:
    real = "urn:vmomi:InventoryServiceTag:5b3bd4e2-1b0c-4c5a-9b0a-2b7e0e6f3e11:GLOBAL"
    assert tag_urn(real) == real
    assert tag_urn("abc") == "urn:vmomi:InventoryServiceTag:abc:GLOBAL"


def test_the_password_never_appears_in_plain_text(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    planned = plan_config(environment("vsphere"), secrets={"nsxPassword": SECRET})
    text = json.dumps([r.to_json() for r in planned.run.resources]) + json.dumps(planned.run.outputs)
    assert SECRET not in text
    assert SECRET not in caplog.text
    nsx = [r for r in planned.run.resources if r.type in NSX_TYPES]
    assert nsx
    for r in nsx:
        assert r.inputs["password"] == "[secret]"
        assert r.inputs["__provider"] == "[secret]"
        assert "password" not in json.dumps(r.inputs["connection"]).lower()


def test_a_plain_password_passed_to_the_component_is_made_secret(tmp_path: Path) -> None:
    """Used as a component in a larger program, the password may arrive as a plain string."""
    program = tmp_path / "__main__.py"
    program.write_text(
        "from components.vsphere.component import VSphereFirewall\n"
        f"VSphereFirewall('fw', {{**{environment('vsphere')!r}, 'nsxPassword': {SECRET!r}}})\n",
        encoding="utf-8",
    )
    run = run_program(program, project="consumer", stack="dev", config={})
    nsx = [r for r in run.resources if r.type in NSX_TYPES]
    assert nsx and all(r.inputs["password"] == "[secret]" for r in nsx)
    assert SECRET not in json.dumps([r.to_json() for r in run.resources])
    owner = nsx[0].inputs["body"]["tags"][0]
    assert owner == {"scope": "eksa-firewall/owner", "tag": "consumer/dev"}


def test_adding_a_cluster_keeps_every_existing_name() -> None:
    before = {r.name for r in plan_config(environment("vsphere")).run.resources}
    config = add_cluster(environment("vsphere"), cluster_config("dev", 2, managed_by="mgmt", worker_groups=()))
    after = {r.name for r in plan_config(config).run.resources}
    assert before < after


def test_tags_can_be_turned_off_and_nsx_too() -> None:
    config = environment("vsphere")
    config["vsphere"] = {"tags": {"enabled": False}, "nsx": {"host": "nsx", "username": "u"}}
    run = plan_config(config).run
    assert not [r for r in run.resources if r.type.startswith("vsphere:")]
    assert run.outputs["vsphereRoleTags"] == {} and run.outputs["vsphereTagCategoryId"] is None
    config["vsphere"] = {"nsx": {"enabled": False}}
    run = plan_config(config).run
    assert not [r for r in run.resources if r.type in NSX_TYPES]
    assert run.outputs["nsxPolicyPaths"] == {} and run.outputs["nsxMode"] is None
    assert run.outputs["vsphereRoleTags"]


def test_a_bad_section_fails_before_anything_is_registered() -> None:
    config = environment("vsphere")
    config["vsphere"] = {"nsx": {"host": "nsx", "username": "u", "mode": "enforcing", "membership": "vmName"}, "tag": {}}
    with pytest.raises(ConfigError) as info:
        plan_config(config)
    keys = {p.key for p in info.value.problems}
    assert keys == {"eksa-firewall:vsphere.nsx.mode", "eksa-firewall:vsphere.nsx.membership", "eksa-firewall:vsphere.tag"}
    assert "did you mean 'enforce'" in str(info.value)
