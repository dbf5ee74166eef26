"""The test infrastructure itself: the environment builder, the strategy and the lab-tier check (tests/conftest.py)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from components.platform import get_platform, platform_names
from components.topology import parse_topology
from components.verify import verify
from tests.conftest import unmarked_lab_tests
from tests.environments import (
    AWS_SECRETS,
    PEM,
    PLATFORM_PARTS,
    PLATFORMS,
    add_cluster,
    add_worker_group,
    base_shape,
    cluster,
    cluster_config,
    edit_cluster,
    edit_worker_group,
    environment,
    environments,
    merge,
    remove_cluster,
    role_addresses,
)
from tests.helpers import plan_config

# RFC 7396 (JSON Merge Patch), Appendix A: (target, patch, result).
RFC_7396_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC_7396_EXAMPLES)
def test_overrides_are_a_json_merge_patch(target: Any, patch: Any, result: Any) -> None:
    before = copy.deepcopy((target, patch))
    assert merge(target, patch) == result
    assert (target, patch) == before  # neither argument is changed


def test_overrides_merge_mappings_replace_lists_and_remove_with_none(environment: Callable[..., dict[str, Any]]) -> None:
    # ``environment`` is the conftest fixture: the builder itself
    env = environment("snow", aws={"groups": {"adminMachine": True}}, clients={"api": ["10.21.0.0/16"], "nodePort": None})
    assert env["aws"] == {"caBundle": PEM, "groups": {"adminMachine": True}}  # merged
    assert env["clients"] == {"api": ["10.21.0.0/16"], "ssh": ["10.20.5.0/24"]}  # a list replaced, a key removed
    assert environment("snow") == environment("snow")  # and the base is untouched
    assert environment("snow")["clients"]["nodePort"] == ["10.20.0.0/16"]


def test_every_registered_platform_has_a_base_and_a_strategy() -> None:
    assert set(PLATFORMS) == set(platform_names()) == set(PLATFORM_PARTS)
    with pytest.raises(KeyError, match="no base environment for platform 'vmware'"):
        environment("vmware")


def test_every_platform_shares_the_base_shape(base_environment: dict[str, Any], platform: str) -> None:
    """Only ``platform``, the endpoints and the platform's own section differ between platforms."""
    own = {"platform", "endpoints", get_platform(platform).section}
    assert {k: v for k, v in base_environment.items() if k not in own} == base_shape()
    assert base_environment["platform"] == platform
    assert [c["name"] for c in base_environment["clusters"]] == ["mgmt", "prod"]


def test_every_base_environment_plans_and_verifies(base_environment: dict[str, Any], platform: str) -> None:
    planned = plan_config(base_environment, secrets=AWS_SECRETS if platform == "snow" else None)
    report = verify(planned.topology, planned.flows, planned.run.resources)
    assert report.ok, report.to_json()
    assert report.required


def test_the_address_plan() -> None:
    assert cluster_config("prod", 1, managed_by="mgmt", external_etcd=True, worker_groups=("md-0", "gpu", "db")) == {
        "name": "prod",
        "managedBy": "mgmt",
        "controlPlane": {"endpoint": "10.11.1.100", "addresses": ["10.11.1.0/26"]},
        "etcd": {"external": True, "addresses": ["10.11.3.0/28"]},
        "workerGroups": [
            {"name": "md-0", "addresses": ["10.11.2.0/24"]},
            {"name": "gpu", "addresses": ["10.11.4.0/24"]},
            {"name": "db", "addresses": ["10.11.5.0/24"]},
        ],
    }
    assert "workerGroups" not in cluster_config("c", 2, worker_groups=())


def test_edits_go_by_name_and_leave_the_rest_alone() -> None:
    base = environment("nutanix")
    env = edit_cluster(base, "prod", etcd={"clientPort": 12379}, controlPlane={"apiServerPort": 443})
    assert cluster(env, "prod")["etcd"] == {"external": True, "addresses": ["10.11.3.0/28"], "clientPort": 12379}
    assert cluster(env, "prod")["controlPlane"] == {"endpoint": "10.11.1.100", "addresses": ["10.11.1.0/26"], "apiServerPort": 443}
    assert cluster(env, "mgmt") == cluster(base, "mgmt") and base == environment("nutanix")
    env = add_worker_group(env, "mgmt", {"name": "gpu", "addresses": ["10.10.4.0/24"]})
    env = edit_worker_group(env, "mgmt", "md-0", addresses=["10.10.9.0/24"])
    assert cluster(env, "mgmt")["workerGroups"] == [
        {"name": "md-0", "addresses": ["10.10.9.0/24"]},
        {"name": "gpu", "addresses": ["10.10.4.0/24"]},
    ]
    assert role_addresses(env, "mgmt", "worker") == ["10.10.9.0/24", "10.10.4.0/24"]
    assert role_addresses(env, "mgmt", "etcd") == [] and role_addresses(env, "prod", "control-plane-vip") == ["10.11.1.100"]
    env = add_cluster(env, cluster_config("qa", 2, managed_by="mgmt"))
    assert [c["name"] for c in env["clusters"]] == ["mgmt", "prod", "qa"]
    assert [c["name"] for c in remove_cluster(env, "prod")["clusters"]] == ["mgmt", "qa"]
    for unknown in (lambda: edit_cluster(env, "dev", name="x"), lambda: remove_cluster(env, "dev")):
        with pytest.raises(KeyError, match="no cluster 'dev'"):
            unknown()
    with pytest.raises(KeyError, match="no worker group 'md-9'"):
        edit_worker_group(env, "mgmt", "md-9", addresses=[])


@pytest.mark.parametrize("platform", PLATFORMS)
@settings(max_examples=60)
@given(data=st.data())
def test_generated_environments_are_valid_for_their_platform(platform: str, data: st.DataObject) -> None:
    env = data.draw(environments(platform))
    assert env["platform"] == platform
    topology = parse_topology(env)
    get_platform(platform).module("settings").parse_settings(topology)  # the section too


FEATURES = {
    "three clusters": lambda e: len(e["clusters"]) == 3,
    "a managed cluster": lambda e: any("managedBy" in c for c in e["clusters"]),
    "external etcd": lambda e: any(c.get("etcd", {}).get("external") for c in e["clusters"]),
    "custom etcd ports": lambda e: any("clientPort" in c.get("etcd", {}) for c in e["clusters"]),
    "an API load balancer": lambda e: any("loadBalancer" in c["controlPlane"] for c in e["clusters"]),
    "the API server on 443": lambda e: any(c["controlPlane"].get("apiServerPort") == 443 for c in e["clusters"]),
    "no worker group": lambda e: any("workerGroups" not in c for c in e["clusters"]),
    "single machines": lambda e: any("/" not in a for c in e["clusters"] for a in c["controlPlane"]["addresses"]),
    "a role on IPv6 only": lambda e: any(all(":" in a for a in role) for c in e["clusters"] for role in _role_addresses(c)),
    "dual-stack nodes": lambda e: any({":" in a for a in c["controlPlane"]["addresses"]} == {True, False} for c in e["clusters"]),
    "IPv6 clients": lambda e: any(":" in a for v in e["clients"].values() for a in v),
    "the admin machine among the clients": lambda e: any(a.startswith("10.10.0.") for v in e["clients"].values() for a in v),
    "Jenkins": lambda e: "managementTools" in e,
    "Cilium off": lambda e: e["cilium"] is False,
    "an EKS-A version": lambda e: "eksaVersion" in e,
    "an add-on": lambda e: any(c.get("addons") for c in e["clusters"]),
    "BGP routers": lambda e: any(c.get("routers") for c in e["clusters"]),
    "a pod range on IPv6": lambda e: any(":" in c.get("clusterNetwork", {}).get("pods", "") for c in e["clusters"]),
}


def _role_addresses(c: dict[str, Any]) -> list[list[str]]:
    """The address lists of a cluster's roles, as written."""
    roles = [c["controlPlane"]["addresses"], *([c["etcd"]["addresses"]] if "addresses" in c.get("etcd", {}) else [])]
    return roles + [g["addresses"] for g in c.get("workerGroups", [])]


@cache
def _sample(platform: str | None, aws_mode: str | None = None) -> tuple[dict[str, Any], ...]:
    """200 environments the strategy generates (derandomized: the same ones on every run)."""
    seen: list[dict[str, Any]] = []

    @settings(max_examples=200, phases=[Phase.generate], derandomize=True, database=None)
    @given(environments(platform, aws_mode=aws_mode))
    def collect(env: dict[str, Any]) -> None:
        seen.append(env)

    collect()
    return tuple(seen)


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_the_strategy_reaches_every_feature_it_promises(feature: str) -> None:
    assert any(FEATURES[feature](env) for env in _sample(None)), f"no generated environment has {feature}"
    assert not all(FEATURES[feature](env) for env in _sample(None)), f"every generated environment has {feature}"


@pytest.mark.parametrize(
    ("platform", "aws_mode", "feature"),
    [
        ("snow", "region", lambda e: e["aws"]["mode"] == "region" and "caBundle" not in e["aws"]),
        ("snow", "snow", lambda e: "placement" in e["aws"] and ":" in e["endpoints"]["snowDevices"][0]["address"]),
        (
            "vsphere",
            None,
            lambda e: e["vsphere"]["nsx"]["membership"] not in ("ipset", "tag") and e["vsphere"]["nsx"]["appliedTo"] == "dfw",
        ),
        ("nutanix", None, lambda e: e["endpoints"]["prismCentralPort"] == 9441 and e.get("nutanix", {}).get("state") == "ENFORCE"),
        ("baremetal", None, lambda e: len(e["endpoints"].get("bmcs", [])) == 2 and e.get("baremetal", {}).get("defaultAction") == "reject"),
    ],
    ids=["snow-region", "snow-placement", "vsphere-vmname-dfw", "nutanix-port-enforce", "baremetal-bmcs-reject"],
)
def test_the_strategy_reaches_each_platforms_options(platform: str, aws_mode: str | None, feature: Any) -> None:
    sample = _sample(platform, aws_mode)
    assert all(e["platform"] == platform for e in sample)
    assert any(feature(e) for e in sample)
    if aws_mode is not None:
        assert {e["aws"]["mode"] for e in sample} == {aws_mode}


@dataclass
class _Item:
    nodeid: str
    fixturenames: tuple[str, ...]
    markers: set[str] = field(default_factory=set)

    def get_closest_marker(self, name: str) -> str | None:
        return name if name in self.markers else None


def test_a_test_that_needs_the_lab_must_be_marked_lab() -> None:
    items = [
        _Item("a", ("lab_host", "tmp_path"), {"lab"}),
        _Item("b", ("planned_lab", "lab_host")),  # through another fixture: pytest lists the closure
        _Item("c", ("tmp_path",)),
    ]
    assert unmarked_lab_tests(items) == ["b"]
