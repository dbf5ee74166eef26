"""Shared test material for the vSphere backend: plans of an environment (tests/environments.py) and a tiny stand-in
for the Pulumi engine."""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dill
from pulumi.dynamic.dynamic import serialize_provider

from components.flows import build_flows
from components.topology import parse_topology
from components.vsphere.nsx_provider import NsxProvider, covers
from components.vsphere.planner import VSpherePlan, plan
from components.vsphere.settings import parse_settings

from .nsx_emulator import NsxEmulator

PASSWORD = "VMware1!VMware1!"
OWNER = "eksa-firewall/test"


def plan_of(config: Mapping[str, Any]) -> VSpherePlan:
    topology = parse_topology(config)
    return plan(topology, build_flows(topology), parse_settings(topology))


@dataclass(frozen=True)
class Desired:
    kind: str  # group | service | policy
    path: str
    body: dict[str, Any]


def desired_objects(config: Mapping[str, Any]) -> dict[str, Desired]:
    p = plan_of(config)
    out: dict[str, Desired] = {}
    for g in p.groups:
        out[g.path(p.domain)] = Desired("group", g.path(p.domain), g.body(OWNER))
    for s in p.services:
        out[s.path] = Desired("service", s.path, s.body(OWNER))
    for pol in p.policies:
        out[pol.path(p.domain)] = Desired("policy", pol.path(p.domain), pol.body(OWNER))
    return out


def connection(emulator: NsxEmulator, **overrides: Any) -> dict[str, Any]:
    conn = {
        "host": "127.0.0.1",
        "port": emulator.port,
        "scheme": "http",
        "username": emulator.username,
        "auth": "session",
        "timeoutSeconds": 5,
        "maxRetries": 8,
        "backoffSeconds": 0.001,
        "maxBackoffSeconds": 0.005,
    }
    conn.update(overrides)
    return conn


def round_trip(provider: NsxProvider) -> NsxProvider:
    """What Pulumi does: pickle the provider into state with dill, and load it in the provider process."""
    return dill.loads(base64.b64decode(serialize_provider(provider)))


_ORDER = {"group": 0, "service": 1, "policy": 2}


@dataclass
class MiniEngine:
    """Creates, updates and deletes in the order Pulumi would, given that policies depend on their groups and
    services: creates and updates of groups and services first, then policies; deletes of policies first."""

    conn: dict[str, Any]
    password: str = PASSWORD
    dill_round_trip: bool = False
    state: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # path -> (kind, outs)

    def provider(self, kind: str) -> NsxProvider:
        p = NsxProvider(kind)
        return round_trip(p) if self.dill_round_trip else p

    def props(self, d: Desired) -> dict[str, Any]:
        return {"path": d.path, "body": copy.deepcopy(d.body), "connection": dict(self.conn), "password": self.password}

    def converge(self, desired: Mapping[str, Desired]) -> None:
        for d in sorted(desired.values(), key=lambda d: (_ORDER[d.kind], d.path)):
            news = self.props(d)
            prov = self.provider(d.kind)
            checked = prov.check({}, news)
            assert not checked.failures, checked.failures
            if d.path not in self.state:
                result = prov.create(news)
                assert result.id == d.path
                self.state[d.path] = (d.kind, dict(result.outs or {}))
            else:
                _, olds = self.state[d.path]
                diff = prov.diff(d.path, olds, news)
                assert not diff.replaces
                if diff.changes:
                    updated = prov.update(d.path, olds, news)
                    self.state[d.path] = (d.kind, dict(updated.outs or {}))
        gone = [p for p in self.state if p not in desired]
        for path in sorted(gone, key=lambda p: (-_ORDER[self.state[p][0]], p)):
            kind, outs = self.state.pop(path)
            self.provider(kind).delete(path, outs)


def assert_state_equals(emulator: NsxEmulator, desired: Mapping[str, Desired]) -> None:
    """The emulator holds exactly the desired objects: same paths, same content (server defaults aside)."""
    state = emulator.state()
    assert sorted(state) == sorted(desired), {"extra": sorted(set(state) - set(desired)), "missing": sorted(set(desired) - set(state))}
    for path, d in desired.items():
        assert covers(d.body, state[path]), (path, d.body, state[path])
