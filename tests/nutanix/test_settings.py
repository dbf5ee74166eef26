"""The `nutanix` section: defaults, explicit ENFORCE, refused SAVE, category limits, every error with key and fix."""

from __future__ import annotations

from typing import Any

import pytest

from components.errors import ConfigError
from components.nutanix.settings import DEFAULT_CATEGORY_KEY, NutanixSettings, parse_settings
from components.topology import parse_topology
from tests.environments import edit_cluster, environment


def settings_of(cfg: dict[str, Any]) -> NutanixSettings:
    return parse_settings(parse_topology(cfg))


def problems(cfg: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        settings_of(cfg)
    return [str(p) for p in err.value.problems]


def test_defaults_monitor_and_per_cluster_role_categories() -> None:
    s = settings_of(environment("nutanix"))
    assert s.state == "MONITOR"
    assert {s.state_of("mgmt"), s.state_of("prod")} == {"MONITOR"}
    assert s.scope == "ALL_VLAN"
    assert s.provider is None
    assert [(c.cluster, c.role, c.key, c.value) for c in s.categories] == [
        ("mgmt", "control-plane", DEFAULT_CATEGORY_KEY, "mgmt-control-plane"),
        ("mgmt", "worker", DEFAULT_CATEGORY_KEY, "mgmt-worker"),
        ("prod", "control-plane", DEFAULT_CATEGORY_KEY, "prod-control-plane"),
        ("prod", "etcd", DEFAULT_CATEGORY_KEY, "prod-etcd"),
        ("prod", "worker", DEFAULT_CATEGORY_KEY, "prod-worker"),
    ]
    # No two cluster roles share a category: Flow could not tell their machines apart.
    assert len({(c.key, c.value) for c in s.categories}) == len(s.categories)


def test_enforce_only_when_asked() -> None:
    assert settings_of(environment("nutanix", nutanix={"state": "ENFORCE"})).state == "ENFORCE"
    s = settings_of(environment("nutanix", nutanix={"clusterStates": {"prod": "ENFORCE"}}))
    assert (s.state_of("mgmt"), s.state_of("prod")) == ("MONITOR", "ENFORCE")
    assert settings_of(environment("nutanix", nutanix={"state": "enforce"})).state == "ENFORCE"  # case does not matter


@pytest.mark.parametrize("where", ["state", "clusterStates"])
def test_save_is_refused_with_the_monitor_fix(where: str) -> None:
    cfg = (
        environment("nutanix", nutanix={"state": "SAVE"})
        if where == "state"
        else environment("nutanix", nutanix={"clusterStates": {"mgmt": "SAVE"}})
    )
    (problem,) = problems(cfg)
    key = "nutanix.state" if where == "state" else "nutanix.clusterStates.mgmt"
    assert problem.startswith(f"{key}: SAVE stores the policy")
    assert "use MONITOR" in problem


def test_category_overrides() -> None:
    s = settings_of(
        environment(
            "nutanix",
            nutanix={
                "categoryKey": "Tier",
                "categories": {"prod": {"worker": {"value": "prod-apps"}, "etcd": {"key": "Db", "value": "etcd"}}},
            },
        )
    )
    cat = s.category("prod", "worker")
    assert cat is not None and (cat.key, cat.value) == ("Tier", "prod-apps")
    etcd = s.category("prod", "etcd")
    assert etcd is not None and (etcd.key, etcd.value) == ("Db", "etcd")
    cp = s.category("mgmt", "control-plane")
    assert cp is not None and (cp.key, cp.value) == ("Tier", "mgmt-control-plane")


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        (
            {"categories": {"prod": {"worker": {"value": "mgmt-worker"}}}},
            "nutanix.categories.prod.worker.value",
            "already the category of mgmt/worker",
        ),
        ({"categories": {"prod": {"worker": {"value": "x" * 65}}}}, "nutanix.categories.prod.worker.value", "longer than 64"),
        ({"categories": {"prod": {"worker": {"value": "a/b"}}}}, "nutanix.categories.prod.worker.value", "contains '/'"),
        ({"categoryKey": "$Role"}, "nutanix.categoryKey", "starts with '$'"),
        ({"categoryKey": "KubernetesClusterName"}, "nutanix.categoryKey", "CAPX"),
        ({"categories": {"mgmt": {"etcd": {"value": "e"}}}}, "nutanix.categories.mgmt.etcd", "no etcd machines"),
        ({"categories": {"prd": {}}}, "nutanix.categories.prd", "did you mean 'prod'"),
        ({"state": "ENFORCED"}, "nutanix.state", "did you mean 'ENFORCE'"),
        ({"scope": "VPC_LIST"}, "nutanix.vpcReferences", "required with scope VPC_LIST"),
        ({"vpcReferences": ["abc"]}, "nutanix.vpcReferences", "only used with scope VPC_LIST"),
        ({"namePrefix": "bad prefix!"}, "nutanix.namePrefix", "not a usable name prefix"),
        ({"hitlog": "often"}, "nutanix.hitlog", "true or false"),
        ({"provider": {"endpoint": "https://pc:9440"}}, "nutanix.provider.endpoint", "not a host name"),
        ({"stat": "MONITOR"}, "nutanix.stat", "did you mean 'state'"),
    ],
)
def test_bad_settings_name_the_key_and_the_fix(section: dict[str, Any], key: str, words: str) -> None:
    found = problems(environment("nutanix", nutanix=section))
    assert any(p.startswith(f"{key}:") and words in p and "Fix:" in p for p in found), found


def test_default_category_values_longer_than_prism_allows_are_refused() -> None:
    long = "m" * 55  # 55 + len("-control-plane") > 64
    cfg = edit_cluster(edit_cluster(environment("nutanix"), "mgmt", name=long), "prod", managedBy=long)
    found = problems(cfg)
    key = f"nutanix.categories.{'m' * 55}.control-plane.value"
    assert any(p.startswith(f"{key}:") and "longer than 64" in p and f"Fix: set {key} to a shorter value" in p for p in found), found


def test_explicit_provider_defaults_to_the_prism_central_endpoint() -> None:
    cfg = environment("nutanix", nutanix={"provider": {}}, endpoints={"prismCentralPort": 9441})
    s = settings_of(cfg)
    assert s.provider is not None
    assert (s.provider.endpoint, s.provider.port, s.provider.insecure) == ("10.0.0.20", 9441, False)
    s = settings_of(environment("nutanix", nutanix={"provider": {"endpoint": "pc.example.com", "port": 443, "insecure": True}}))
    assert s.provider is not None and (s.provider.endpoint, s.provider.port, s.provider.insecure) == ("pc.example.com", 443, True)
