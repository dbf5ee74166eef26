"""Shared by the bare-metal tests: the example stack, its variants, and the rulesets as registered.

The bare-metal tests start from the example stack (tests/environments.py ``from_stack``), not from the shared base:
its hardware CSV, and its documentation ranges, which the lab (tests/baremetal/lab.py) builds its network from.
"""

from __future__ import annotations

from typing import Any

from components.baremetal.interpret import RULESET_TYPE
from tests.environments import add_cluster, add_worker_group, edit_cluster, from_stack, merge
from tests.helpers import Planned, plan_config, plan_stack

EXAMPLE = "baremetal-example"
FAKE_BMC_PASSWORDS = ("FAKE-bmc-pass-cp1", "FAKE-bmc-pass-w1", "FAKE-bmc-pass-e3")


def example_config(**overrides: Any) -> dict[str, Any]:
    """The example stack's config, with ``overrides`` merged in (tests/environments.py)."""
    return from_stack(EXAMPLE, **overrides)


def external_etcd_config() -> dict[str, Any]:
    """The example with external etcd, on the CSV's type=etcd machines."""
    return edit_cluster(example_config(), "mgmt", etcd={"external": True, "hardwareSelector": {"type": "etcd"}})


def workload_cluster_config() -> dict[str, Any]:
    """The example plus a workload cluster managed by it (addresses, not the CSV)."""
    return add_cluster(
        example_config(),
        {
            "name": "prod",
            "managedBy": "mgmt",
            "controlPlane": {"endpoint": "198.51.100.151", "addresses": ["198.51.100.141", "198.51.100.142", "198.51.100.143"]},
            "workerGroups": [{"name": "md-0", "addresses": ["198.51.100.160/28"]}],
        },
    )


def ipv6_config() -> dict[str, Any]:
    """A dual-stack variant: IPv6 addresses for the admin machine, the API clients and a worker group."""
    cfg = example_config()
    cfg = merge(
        cfg,
        {
            "adminMachine": {"addresses": [*cfg["adminMachine"]["addresses"], "2001:db8::5"]},
            "clients": {"api": [*cfg["clients"]["api"], "2001:db8:1::/64"]},
        },
    )
    cfg = add_worker_group(cfg, "mgmt", {"name": "md-v6", "addresses": ["2001:db8::21", "2001:db8::22"]})
    return edit_cluster(cfg, "mgmt", controlPlane={"addresses": ["2001:db8::11"]})


def plan_example() -> Planned:
    return plan_stack(EXAMPLE)


def plan(cfg: dict[str, Any], **kwargs: Any) -> Planned:
    return plan_config(cfg, **kwargs)


def registered_rulesets(planned: Planned) -> dict[str, str]:
    """host key -> the nftables text, as the component registered it."""
    return {r.inputs["host"]: r.inputs["ruleset"] for r in planned.run.resources if r.type == RULESET_TYPE}
