"""AwsFirewall under Pulumi's mocks: what is registered in each mode, and what never is."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.errors import ConfigError
from tests.environments import AWS_REGION, AWS_SECRETS, JENKINS, PROD_LOAD_BALANCER, edit_cluster, environment, role_addresses
from tests.helpers import Planned, plan_config, plan_stack

SG = "aws:ec2/securityGroup:SecurityGroup"
PROVIDER = "pulumi:providers:aws"
COMPONENT = "eksa-firewall:index:AwsFirewall"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SNOW_TYPES = {PROVIDER, SG, COMPONENT}


def _plan(cfg: dict[str, Any], secrets: dict[str, str] | None = AWS_SECRETS) -> Planned:
    return plan_config(cfg, secrets=secrets)


# --- snow ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "planned",
    [
        pytest.param(lambda: plan_stack("snow-example"), id="snow-example"),
        pytest.param(lambda: _plan(environment("snow", aws={"groups": {"adminMachine": True}})), id="snow-admin"),
        pytest.param(
            lambda: _plan(
                edit_cluster(
                    environment("snow", managementTools=JENKINS, aws={"groups": {"jenkins": True, "adminMachine": True}}),
                    "prod",
                    **PROD_LOAD_BALANCER,
                )
            ),
            id="snow-everything",
        ),
    ],
)
def test_snow_registers_only_what_snow_supports(planned: Any) -> None:
    run = planned().run
    types = {r.type for r in run.resources}
    assert types <= SNOW_TYPES, types - SNOW_TYPES
    groups = run.of_type(SG)
    assert groups
    for g in groups:
        assert "revokeRulesOnDelete" not in g.inputs
        assert "vpcId" not in g.inputs  # no VPCs on Snow
        assert g.inputs.get("egress"), f"{g.name}: egress must be explicit"
        assert g.provider is not None and "snow" in g.provider
        for direction in ("ingress", "egress"):
            for block in g.inputs.get(direction) or ():
                # CIDR sources only: no group references (no cycles, nothing Snow cannot describe)
                assert not block.get("securityGroups") and not block.get("self") and not block.get("prefixListIds")
                assert block.get("cidrBlocks") or block.get("ipv6CidrBlocks")
                assert block["protocol"] in ("tcp", "udp", "icmp", "icmpv6")


def test_snow_provider_is_built_for_the_device_endpoint() -> None:
    run = _plan(environment("snow")).run
    providers = {p.name: p.inputs for p in run.of_type(PROVIDER)}
    assert set(providers) == {"eksa-snow-dev-a", "eksa-snow-dev-b"}
    a = providers["eksa-snow-dev-a"]
    assert a["region"] == "snow"
    assert json.loads(a["endpoints"]) == [{"ec2": "https://10.0.0.31:8243"}]  # provider config values arrive as JSON text
    for flag in ("skipCredentialsValidation", "skipRegionValidation", "skipRequestingAccountId", "skipMetadataApiCheck"):
        assert str(a[flag]).lower() == "true", flag
    assert a["customCaBundle"].endswith(".pem")
    assert "insecure" not in a
    assert a["accessKey"] == "[secret]" and a["secretKey"] == "[secret]"


def test_snow_insecure_is_an_explicit_opt_in() -> None:
    cfg = environment("snow", aws={"caBundle": None, "insecure": True})
    a = _plan(cfg).run.of_type(PROVIDER)[0].inputs
    assert str(a["insecure"]).lower() == "true"
    assert "customCaBundle" not in a


def test_snow_ca_bundle_path_is_passed_as_a_path(tmp_path: Any) -> None:
    pem = tmp_path / "devices.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", encoding="utf-8")
    a = _plan(environment("snow", aws={"caBundle": str(pem)})).run.of_type(PROVIDER)[0].inputs
    assert a["customCaBundle"] == str(pem)


def test_snow_ipv6_device_endpoint_is_bracketed() -> None:
    cfg = environment("snow", endpoints={"snowDevices": [{"name": "dev-6", "address": "fd00::2"}]})
    a = _plan(cfg).run.of_type(PROVIDER)[0].inputs
    assert "https://[fd00::2]:8243" in json.dumps(a["endpoints"])


def test_snow_credentials_file_uses_eksa_profiles_named_by_device_ip() -> None:
    run = _plan(environment("snow", aws={"credentialsFile": "/home/me/.aws/snow-credentials"}), secrets=None).run
    a = {p.name: p.inputs for p in run.of_type(PROVIDER)}["eksa-snow-dev-b"]
    assert a["profile"] == "10.0.0.32"  # dev-b's address
    assert json.loads(a["sharedCredentialsFiles"]) == ["/home/me/.aws/snow-credentials"]  # provider config: JSON text
    assert "accessKey" not in a


def test_snow_without_secrets_uses_the_default_credential_chain() -> None:
    """An offline plan (a pull-request preview, say) needs no secrets; the provider then reads AWS_* variables."""
    a = _plan(environment("snow"), secrets=None).run.of_type(PROVIDER)[0].inputs
    assert "accessKey" not in a and "profile" not in a and "sharedCredentialsFiles" not in a


def test_snow_without_ca_bundle_never_turns_verification_off() -> None:
    cfg = environment("snow", aws={"caBundle": None})
    assert cfg["aws"] == {}
    a = _plan(cfg).run.of_type(PROVIDER)[0].inputs
    assert "insecure" not in a and "customCaBundle" not in a


def test_half_of_the_key_pair_is_refused() -> None:
    with pytest.raises(ConfigError, match="awsSecretAccessKey"):
        _plan(environment("snow"), secrets={"awsAccessKeyId": "AKIDTEST"})


def test_secrets_never_reach_outputs_or_groups() -> None:
    run = _plan(environment("snow")).run
    text = json.dumps([r.to_json() for r in run.resources]) + json.dumps(run.outputs)
    for value in AWS_SECRETS.values():
        assert value not in text


def test_snow_placement_puts_a_cluster_on_its_devices_only() -> None:
    run = _plan(environment("snow", aws={"placement": {"prod": ["dev-b"]}})).run
    names = {g.name for g in run.of_type(SG)}
    assert "eksa-dev-b-prod-control-plane" in names and "eksa-dev-a-prod-control-plane" not in names
    assert {"eksa-dev-a-mgmt-control-plane", "eksa-dev-b-mgmt-control-plane"} <= names
    outputs = run.outputs["securityGroupIds"]
    assert set(outputs["prod"]["controlPlane"]) == {"dev-b"}
    assert set(outputs["mgmt"]["worker"]) == {"dev-a", "dev-b"}


def test_snow_outputs_group_ids_per_cluster_role_and_device() -> None:
    run = _plan(environment("snow")).run
    ids = {g.id for g in run.of_type(SG)}
    out = run.outputs["securityGroupIds"]
    assert set(out) == {"mgmt", "prod"}
    assert set(out["prod"]) == {"controlPlane", "etcd", "worker"}
    assert {i for cluster in out.values() for role in cluster.values() for i in role.values()} == ids
    assert run.outputs["snowEc2Endpoints"] == {"dev-a": "https://10.0.0.31:8243", "dev-b": "https://10.0.0.32:8243"}
    assert run.outputs["awsMode"] == "snow"


def test_groups_are_tagged_with_cluster_and_role_and_user_tags() -> None:
    run = _plan(environment("snow", aws={"tags": {"team": "platform"}})).run
    g = next(g for g in run.of_type(SG) if g.name == "eksa-dev-a-prod-etcd")
    assert g.inputs["tags"] == {"Name": "eksa-prod-etcd", "eksa-firewall/cluster": "prod", "eksa-firewall/role": "etcd", "team": "platform"}
    assert g.inputs["name"] == "eksa-prod-etcd"


def test_rule_descriptions_name_purpose_and_catalog_rows() -> None:
    run = _plan(environment("snow")).run
    g = next(g for g in run.of_type(SG) if g.name == "eksa-dev-a-mgmt-worker")
    descriptions = {b["description"] for b in g.inputs["ingress"]}
    assert "EKS-A NodePort Services [worker-nodeport]" in descriptions
    egress = {b["description"] for b in g.inputs["egress"]}
    assert "EKS-A EC2 HTTPS endpoint [snow-ec2-https]" in egress
    assert all(len(d) <= 255 for d in descriptions | egress)


def test_bad_aws_section_is_refused_before_anything_is_registered() -> None:
    cfg = environment("snow", aws={"caBundle": "-----BEGIN", "vpcId": "vpc-1"})
    with pytest.raises(ConfigError) as info:
        _plan(cfg)
    keys = {p.key for p in info.value.problems}
    assert {"eksa-firewall:aws.caBundle", "eksa-firewall:aws.vpcId"} <= keys  # as the stack file spells them


# --- region ----------------------------------------------------------------------------------------------


def test_region_groups_have_no_inline_rules_and_rules_are_separate() -> None:
    run = _plan(environment("snow", aws=AWS_REGION)).run
    groups = run.of_type(SG)
    assert groups
    for g in groups:
        assert "ingress" not in g.inputs and "egress" not in g.inputs
        assert g.inputs["vpcId"] == "vpc-0a1b2c3d4e5f67890"
        assert "revokeRulesOnDelete" not in g.inputs
    assert run.of_type(INGRESS) and run.of_type(EGRESS)
    provider = run.of_type(PROVIDER)[0].inputs
    assert provider["region"] == "us-west-2"
    assert provider["accessKey"] == "[secret]"


def test_region_node_to_node_rules_reference_groups() -> None:
    env = environment("snow", aws=AWS_REGION)
    run = _plan(env).run
    ids = {g.inputs["name"]: g.id for g in run.of_type(SG)}
    rules = {r.name: r.inputs for r in run.of_type(INGRESS, EGRESS)}
    rule = rules["eksa-mgmt-control-plane-in-sg-mgmt-worker-tcp-6443"]
    assert rule["referencedSecurityGroupId"] == ids["eksa-mgmt-worker"]
    assert rule["securityGroupId"] == ids["eksa-mgmt-control-plane"]
    assert "cidrIpv4" not in rule
    # the managing cluster reaches the workload cluster's etcd by reference too
    assert rules["eksa-prod-etcd-in-sg-mgmt-worker-tcp-2379-2380"]["referencedSecurityGroupId"] == ids["eksa-mgmt-worker"]
    # egress to the VIP is by address: egress rules match destination addresses
    assert rules["eksa-mgmt-worker-out-cidr-10-10-1-100-32-tcp-6443"]["cidrIpv4"] == "10.10.1.100/32"
    # every node-to-node rule is by reference: no node CIDR appears in a rule between node groups
    node_cidrs = {a for c in ("mgmt", "prod") for role in ("control-plane", "etcd", "worker") for a in role_addresses(env, c, role)}
    assert len(node_cidrs) == 5
    assert not {r.get("cidrIpv4") for r in rules.values()} & node_cidrs


def test_region_icmp_echo_uses_type_8_code_0_and_icmpv6_128() -> None:
    cfg = environment(
        "snow",
        aws=AWS_REGION,
        clusters=[
            {
                "name": "dual",
                "controlPlane": {"endpoint": "10.0.2.100", "addresses": ["10.0.2.0/28", "fd00:2::/120"]},
                "workerGroups": [{"name": "md-0", "addresses": ["10.0.2.16/28", "fd00:2::1:0/120"]}],
            }
        ],
    )
    rules = {r.name: r.inputs for r in _plan(cfg).run.of_type(INGRESS)}
    v4 = rules["eksa-dual-worker-in-sg-dual-control-plane-icmp-8"]
    v6 = rules["eksa-dual-worker-in-sg-dual-control-plane-icmpv6-128"]
    assert (v4["ipProtocol"], v4["fromPort"], v4["toPort"]) == ("icmp", 8, 0)
    assert (v6["ipProtocol"], v6["fromPort"], v6["toPort"]) == ("icmpv6", 128, 0)


def test_region_outputs_one_id_per_group() -> None:
    run = _plan(environment("snow", aws={**AWS_REGION, "groups": {"adminMachine": True}})).run
    out = run.outputs["securityGroupIds"]
    assert out["mgmt"]["controlPlane"].startswith("sg-")
    assert out["adminMachine"].startswith("sg-")
    assert run.outputs["snowEc2Endpoints"] == {}  # every output exists in both modes: a stable contract


def test_region_credentials_default_to_the_aws_chain() -> None:
    provider = _plan(environment("snow", aws={**AWS_REGION, "profile": "staging"}), secrets=None).run.of_type(PROVIDER)[0].inputs
    assert provider["profile"] == "staging" and "accessKey" not in provider


def test_logical_names_are_unique() -> None:
    run = _plan(environment("snow", aws={**AWS_REGION, "groups": {"adminMachine": True}})).run
    names = [r.name for r in run.resources]
    assert len(names) == len(set(names))
