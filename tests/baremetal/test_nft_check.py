"""`nft -c` (check mode: parsed and validated by the kernel, never committed) on every ruleset the example
stacks render, and on the variants the other tests use. The lab tier (marked ``lab``): needs root and nft, and fails
with the reason otherwise."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.baremetal.common import (
    example_config,
    external_etcd_config,
    ipv6_config,
    plan,
    plan_example,
    registered_rulesets,
    workload_cluster_config,
)
from tests.environments import merge
from tests.helpers import PROJECT, PROJECT_DIR, plan_stack


def _nft_check(text: str) -> subprocess.CompletedProcess[str]:
    """The kernel's verdict on ``text`` (a test calling this asks for the ``lab_host`` fixture)."""
    return subprocess.run(["nft", "-c", "-f", "-"], input=text, capture_output=True, text=True, timeout=30, check=False)


def _baremetal_stacks() -> list[str]:
    names = []
    for path in sorted((PROJECT_DIR / "stacks").glob("Pulumi.*.yaml")):
        config = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config") or {}
        if config.get(f"{PROJECT}:platform") == "baremetal":
            names.append(path.name.removeprefix("Pulumi.").removesuffix(".yaml"))
    return names


def test_there_is_an_example_stack() -> None:
    assert "baremetal-example" in _baremetal_stacks()


@pytest.mark.lab
@pytest.mark.parametrize("stack", _baremetal_stacks())
def test_every_example_stack_ruleset_passes_nft_check(stack: str, lab_host: None) -> None:
    rulesets = registered_rulesets(plan_stack(stack))
    assert rulesets
    for key, text in rulesets.items():
        proc = _nft_check(text)
        assert proc.returncode == 0, f"{stack} {key}: {proc.stderr}"


def _reject(cfg: dict) -> dict:
    return merge(cfg, {"baremetal": {"defaultAction": "reject", "table": "fw2"}, "eksaVersion": "v0.21"})


@pytest.mark.lab
@pytest.mark.parametrize(
    "make",
    [external_etcd_config, workload_cluster_config, ipv6_config, lambda: _reject(example_config())],
    ids=["external-etcd", "workload-cluster", "ipv6", "reject-v0.21"],
)
def test_variant_rulesets_pass_nft_check(make: object, lab_host: None) -> None:
    for key, text in registered_rulesets(plan(make())).items():  # type: ignore[operator]
        proc = _nft_check(text)
        assert proc.returncode == 0, f"{key}: {proc.stderr}"


@pytest.mark.lab
def test_nft_check_does_reject_a_broken_ruleset(lab_host: None) -> None:
    text = registered_rulesets(plan_example())["mgmt/worker"].replace("tcp dport 22 accept", "tcp dport 70000 accept")
    assert _nft_check(text).returncode != 0
