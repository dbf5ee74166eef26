"""Shared by the bare-metal tests: the example stack, its variants, and the rulesets as registered."""

from __future__ import annotations

import copy
from typing import Any

from components.baremetal.interpret import RULESET_TYPE
from tests.helpers import Planned, example_args, plan_config, plan_stack

EXAMPLE = "baremetal-example"
FAKE_BMC_PASSWORDS = ("FAKE-bmc-pass-cp1", "FAKE-bmc-pass-w1", "FAKE-bmc-pass-e3")


def example_config() -> dict[str, Any]:
    return copy.deepcopy(example_args(EXAMPLE))


def external_etcd_config() -> dict[str, Any]:
    cfg = example_config()
    cfg["clusters"][0]["etcd"] = {"external": True, "hardwareSelector": {"type": "etcd"}}
    return cfg


def workload_cluster_config() -> dict[str, Any]:
    """The example plus a workload cluster managed by it (addresses, not the CSV)."""
    cfg = example_config()
    cfg["clusters"].append(
        {
            "name": "prod",
            "managedBy": "mgmt",
            "controlPlane": {"endpoint": "198.51.100.151", "addresses": ["198.51.100.141", "198.51.100.142", "198.51.100.143"]},
            "workerGroups": [{"name": "md-0", "addresses": ["198.51.100.160/28"]}],
        }
    )
    return cfg


def ipv6_config() -> dict[str, Any]:
    """A dual-stack variant: IPv6 addresses for the admin machine, the API clients and a worker group."""
    cfg = example_config()
    cfg["adminMachine"]["addresses"].append("2001:db8::5")
    cfg["clients"]["api"].append("2001:db8:1::/64")
    cfg["clusters"][0]["workerGroups"].append({"name": "md-v6", "addresses": ["2001:db8::21", "2001:db8::22"]})
    cfg["clusters"][0]["controlPlane"]["addresses"] = ["2001:db8::11"]
    return cfg


def plan_example() -> Planned:
    return plan_stack(EXAMPLE)


def plan(cfg: dict[str, Any], **kwargs: Any) -> Planned:
    return plan_config(cfg, **kwargs)


def registered_rulesets(planned: Planned) -> dict[str, str]:
    """host key -> the nftables text, as the component registered it."""
    return {r.inputs["host"]: r.inputs["ruleset"] for r in planned.run.resources if r.type == RULESET_TYPE}
