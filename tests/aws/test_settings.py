"""The `aws` section: defaults, and one clear error (key + fix) per mistake."""

from __future__ import annotations

from typing import Any

import pytest

from components.aws.scope import Scope
from components.aws.settings import AwsSettings, GroupKey, parse_settings
from components.errors import ConfigError
from components.topology import parse_topology
from tests.environments import AWS_REGION, JENKINS, PEM, environment


def _settings(cfg: dict[str, Any], **kwargs: Any) -> AwsSettings:
    return parse_settings(parse_topology(cfg), **kwargs)


def _problems(cfg: dict[str, Any], **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        _settings(cfg, **kwargs)
    return {p.key: f"{p.message} | {p.fix}" for p in info.value.problems}


def test_snow_defaults() -> None:
    s = _settings(environment("snow"))
    assert s.mode == "snow"
    assert (s.groups.nodes, s.groups.admin_machine, s.groups.jenkins) == (True, False, False)
    assert [d.name for d in s.devices] == ["dev-a", "dev-b"]
    assert s.devices[0].ec2_endpoint == "https://10.0.0.31:8243"
    assert s.ca_bundle is not None and s.ca_bundle.pem == PEM
    assert s.devices_for(GroupKey("prod", "worker")) == s.devices


def test_region_defaults_select_the_admin_machine_and_jenkins() -> None:
    cfg = environment("snow", aws=AWS_REGION, managementTools=JENKINS)
    s = _settings(cfg)
    assert (s.mode, s.region, s.vpc_id) == ("region", "us-west-2", "vpc-0a1b2c3d4e5f67890")
    assert (s.groups.nodes, s.groups.admin_machine, s.groups.jenkins) == (True, True, True)
    keys = Scope.of(parse_topology(cfg), s).keys
    assert GroupKey("", "admin-machine") in keys and GroupKey("", "jenkins") in keys
    assert GroupKey("prod", "etcd") in keys


def test_without_ca_bundle_tls_is_still_verified() -> None:
    """insecure is never implied: with no caBundle the system trust store (or AWS_CA_BUNDLE) decides."""
    s = _settings(environment("snow", aws={"caBundle": None}))
    assert s.ca_bundle is None and s.insecure is False


def test_ca_bundle_and_insecure_together_are_refused() -> None:
    assert "aws.insecure" in _problems(environment("snow", aws={"insecure": True}))


def test_ca_bundle_path_is_checked_when_files_can_be_read() -> None:
    def missing(path: str) -> str:
        raise FileNotFoundError(2, "No such file or directory")

    problems = _problems(environment("snow", aws={"caBundle": "certs/nope.pem"}), read_file=missing)
    assert "cannot read 'certs/nope.pem'" in problems["aws.caBundle"]
    problems = _problems(environment("snow", aws={"caBundle": "certs/empty.pem"}), read_file=lambda p: "not a cert")
    assert "holds no PEM certificate" in problems["aws.caBundle"]
    s = _settings(environment("snow", aws={"caBundle": "certs/ok.pem"}), read_file=lambda p: PEM)
    assert s.ca_bundle is not None and s.ca_bundle.path == "certs/ok.pem"


def test_keys_of_the_other_mode_are_refused() -> None:
    problems = _problems(environment("snow", aws={"vpcId": "vpc-0a1b2c3d4e5f67890"}))
    assert "aws.vpcId" in problems and "mode: region" in problems["aws.vpcId"]
    cfg = environment("snow", aws={**AWS_REGION, "caBundle": PEM})
    assert "aws.caBundle" in _problems(cfg)


def test_region_needs_a_vpc_id_and_takes_the_region_from_the_provider_when_unset() -> None:
    cfg = environment("snow", aws={"mode": "region", "caBundle": None})
    problems = _problems(cfg)
    assert set(problems) == {"aws.vpcId"}
    cfg = environment("snow", aws={**AWS_REGION, "vpcId": "my-vpc", "region": "Oregon"})
    problems = _problems(cfg)
    assert "vpc-0a1b2c3d4e5f67890" in problems["aws.vpcId"] and "us-west-2" in problems["aws.region"]


def test_unknown_keys_get_a_did_you_mean() -> None:
    problems = _problems(environment("snow", aws={"cabundle": PEM}))
    assert "caBundle" in problems["aws.cabundle"]


def test_placement_names_known_clusters_and_devices() -> None:
    problems = _problems(environment("snow", aws={"placement": {"qa": ["dev-a"], "prod": ["dev-c"], "mgmt": []}}))
    assert "aws.placement.qa" in problems  # no cluster qa
    assert "dev-a, dev-b" in problems["aws.placement.prod[0]"]
    assert "aws.placement.mgmt" in problems
    s = _settings(environment("snow", aws={"placement": {"prod": ["dev-b"], "adminMachine": ["dev-a"]}}))
    assert [d.name for d in s.devices_for(GroupKey("prod", "control-plane"))] == ["dev-b"]
    assert [d.name for d in s.devices_for(GroupKey("", "admin-machine"))] == ["dev-a"]
    assert [d.name for d in s.devices_for(GroupKey("mgmt", "worker"))] == ["dev-a", "dev-b"]


def test_a_jenkins_group_needs_jenkins() -> None:
    problems = _problems(environment("snow", aws={"groups": {"jenkins": True}}))
    assert "managementTools.jenkins" in problems["aws.groups.jenkins"]


def test_selecting_no_group_is_refused() -> None:
    assert "aws.groups" in _problems(environment("snow", aws={"groups": {"nodes": False}}))


def test_reserved_tags_are_refused() -> None:
    problems = _problems(environment("snow", aws={"tags": {"Name": "x", "aws:foo": "y", "eksa-firewall/role": "z", "ok": "fine"}}))
    assert {"aws.tags.Name", "aws.tags.aws:foo", "aws.tags.eksa-firewall/role"} <= set(problems)
    assert "aws.tags.ok" not in problems


def test_a_name_prefix_cannot_start_with_sg() -> None:
    assert "aws.namePrefix" in _problems(environment("snow", aws={"namePrefix": "sg-eksa-"}))


def test_stack_config_errors_name_the_namespaced_key() -> None:
    cfg = environment("snow", aws={"insecure": True})
    with pytest.raises(ConfigError) as info:
        parse_settings(parse_topology(cfg, key_prefix="eksa-firewall:"))
    assert info.value.problems[0].key == "eksa-firewall:aws.insecure"
