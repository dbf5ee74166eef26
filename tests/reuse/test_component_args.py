"""Component args as a consumer writes them: no `platform` key, Inputs where values only pass through,
and a clear error where a planned value is an Output of another resource."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from components.engine import run_program
from components.errors import ConfigError

PROGRAM = """\
import pulumi
import pulumi_aws as aws
from components.aws.component import AwsFirewall

vpc = aws.ec2.Vpc("platform", cidr_block="10.40.0.0/16")
args = {{
    "adminMachine": {{"addresses": ["10.40.0.10"]}},
    "endpoints": {{"snowDevices": [{{"name": "unused", "address": "10.40.0.2"}}]}},
    "clusters": [{{"name": "edge", "controlPlane": {{"endpoint": {endpoint}, "addresses": ["10.40.1.16/28"]}}}}],
    "aws": {{"mode": "region", "vpcId": vpc.id}},
}}
AwsFirewall("edge", args)
"""


def _run(tmp_path: Path, endpoint: str) -> list[str]:
    program = tmp_path / "__main__.py"
    program.write_text(textwrap.dedent(PROGRAM.format(endpoint=endpoint)), encoding="utf-8")
    run = run_program(program, project="consumer", stack="dev", config={})
    return [r.type for r in run.resources]


def test_a_vpc_id_output_passes_through_and_no_platform_key_is_needed(tmp_path: Path) -> None:
    types = _run(tmp_path, '"10.40.1.10"')
    assert "eksa-firewall:index:AwsFirewall" in types and "aws:ec2/securityGroup:SecurityGroup" in types


def test_an_output_where_an_address_is_planned_is_refused_naming_the_argument(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        _run(tmp_path, 'vpc.cidr_block.apply(lambda c: "10.40.1.10")')
    (problem,) = error.value.problems
    assert problem.key == "clusters[0].controlPlane.endpoint"
    assert "is a pulumi Output" in problem.message and "plain value" in problem.fix


def test_a_platform_key_that_disagrees_with_the_class_is_refused(tmp_path: Path) -> None:
    program = tmp_path / "__main__.py"
    program.write_text(
        'from components.vsphere.component import VSphereFirewall\nVSphereFirewall("x", {"platform": "nutanix"})\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"platform: is 'nutanix', but this component builds 'vsphere' firewalls"):
        run_program(program, project="consumer", stack="dev", config={})
