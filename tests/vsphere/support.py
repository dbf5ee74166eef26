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
from components.vsphere.nsx_client import NsxError
from components.vsphere.nsx_provider import NsxProvider, covers, owner_of
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


def owned_paths(emulator: NsxEmulator, owner: str = OWNER) -> set[str]:
    """The paths of every object in the emulator that carries ``owner``'s tag."""
    return {p for p, o in emulator.state().items() if owner_of(o) == owner}


# Ranks in the component's dependency order: NsxCleanup "all" (everything depends on it), groups and services,
# NsxCleanup "policies" (depends on every group and service), policies (depend on it).
_RANK = {"cleanup-all": 0, "group": 1, "service": 1, "cleanup-policies": 2, "policy": 3}
CLEANUPS = {"cleanup-all": "all", "cleanup-policies": "policies"}  # MiniEngine.state keys of the NsxCleanup resources


@dataclass
class MiniEngine:
    """Creates, updates and deletes in the order Pulumi would, given the component's dependencies (``_RANK``);
    deletes in the reverse order. Like Pulumi, the first failing step ends the run (raised), and state keeps what
    succeeded: a failed create records nothing, a failed delete keeps the resource."""

    conn: dict[str, Any]
    password: str = PASSWORD
    dill_round_trip: bool = False
    owner: str = OWNER
    id_prefix: str = "eksa"
    state: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # path -> (kind, outs)

    def provider(self, kind: str) -> NsxProvider:
        p = NsxProvider(kind)
        return round_trip(p) if self.dill_round_trip else p

    def props(self, d: Desired) -> dict[str, Any]:
        return {"path": d.path, "body": copy.deepcopy(d.body), "connection": dict(self.conn), "password": self.password}

    def cleanup_props(self, sweep: str) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "domain": "default",
            "idPrefix": self.id_prefix,
            "sweep": sweep,
            "connection": dict(self.conn),
            "password": self.password,
        }

    def converge(self, desired: Mapping[str, Desired], *, continue_on_error: bool = False) -> None:
        """One `pulumi up` (or `destroy` when ``desired`` is empty). With ``continue_on_error`` (the CLI's
        ``--continue-on-error``) a failed step does not end the run: the resources that depend on it are
        skipped, the others go on, and the errors are raised together at the end."""
        errors: list[NsxError] = []
        failed: set[str] = set()
        steps = [*desired.values(), *([Desired(k, k, {}) for k in CLEANUPS] if desired else [])]
        for d in sorted(steps, key=lambda d: (_RANK[d.kind], d.path)):
            needs: set[str] = set()
            if d.kind in ("group", "service"):
                needs = {"cleanup-all"}
            elif d.kind == "cleanup-policies":
                needs = {p for p, x in desired.items() if x.kind in ("group", "service")}
            elif d.kind == "policy":
                needs = {"cleanup-policies"} | _references(d.body)
            if failed & needs:
                failed.add(d.path)
                continue  # depends on a failed step: skipped
            try:
                if d.kind in CLEANUPS:
                    if d.path not in self.state:
                        result = self.provider("cleanup").create(self.cleanup_props(CLEANUPS[d.kind]))
                        self.state[d.path] = (d.kind, dict(result.outs or {}))
                else:
                    self._apply(d)
            except NsxError as exc:
                if not continue_on_error:
                    raise
                errors.append(exc)
                failed.add(d.path)
        gone = [p for p in self.state if p not in desired and (p not in CLEANUPS or not desired)]
        for path in sorted(gone, key=lambda p: (-_RANK[self.state[p][0]], p)):
            kind, outs = self.state[path]
            remaining = [k for p, (k, _) in self.state.items() if p not in desired or (not desired and p in CLEANUPS)]
            if any(_RANK[k] > _RANK[kind] for k in remaining if (not desired or k == "policy")):
                continue  # a resource that depends on it was not deleted: skipped
            try:
                self.provider("cleanup" if kind in CLEANUPS else kind).delete(path, outs)
            except NsxError as exc:
                if not continue_on_error:
                    raise
                errors.append(exc)
                continue
            del self.state[path]
        if errors:
            raise NsxError("; ".join(str(e) for e in errors))

    def _apply(self, d: Desired) -> None:
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

    def paths(self) -> set[str]:
        """The NSX paths state knows."""
        return {p for p in self.state if p not in CLEANUPS}


def _references(body: Mapping[str, Any]) -> set[str]:
    refs = set(body.get("scope") or [])
    for r in body.get("rules") or []:
        for k in ("source_groups", "destination_groups", "services"):
            refs.update(r.get(k) or [])
    return refs


def assert_state_equals(emulator: NsxEmulator, desired: Mapping[str, Desired]) -> None:
    """The emulator holds exactly the desired objects: same paths, same content (server defaults aside)."""
    state = emulator.state()
    assert sorted(state) == sorted(desired), {"extra": sorted(set(state) - set(desired)), "missing": sorted(set(desired) - set(state))}
    for path, d in desired.items():
        assert covers(d.body, state[path]), (path, d.body, state[path])
