"""NSX API calls made by the dynamic provider for the vSphere example stack, against the NSX emulator.

The NSX objects are those the example stack registers (path and body read from the registrations). The provider
(``components.vsphere.nsx_provider.NsxProvider``) is driven as the Pulumi engine drives it, one provider per
kind, in dependency order (groups and services, then policies), and every phase starts with fresh clients, as
each ``pulumi`` command starts a new provider process:

- create: ``check`` + ``create`` per object (``pulumi up`` on an empty NSX);
- no-op update: ``check`` + ``diff`` per object with unchanged inputs (``pulumi up`` with nothing changed);
- refresh: ``read`` per object (``pulumi up --refresh`` / ``pulumi refresh``);
- forced update with unchanged bodies: ``update`` per object (what runs when only a non-body input changed,
  the password say): the provider must find the object already as desired and write nothing.

Requests are counted by method as the emulator received them (object API only); session logins
(``POST /api/session/create``) are counted apart. Budget: every phase after create makes only GET calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from components.vsphere import nsx_provider
from components.vsphere.nsx_provider import NsxProvider
from tests.vsphere.nsx_emulator import Faults, NsxEmulator

PASSWORD = "VMware1!VMware1!"
KINDS = {"Group": "group", "Service": "service", "SecurityPolicy": "policy"}
ORDER = {"group": 0, "service": 1, "policy": 2}


def _objects(registrations: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    out: list[tuple[str, str, dict[str, Any]]] = []
    for r in registrations:
        kind = KINDS.get(r["type"].rsplit(":", 1)[1])
        # (nsx:Cleanup is no NSX object: it sweeps the strays a lost create left, tests/vsphere/test_orphans.py)
        if r["type"].startswith("pulumi-python:dynamic/nsx:") and kind is not None:
            out.append((kind, r["inputs"]["path"], dict(r["inputs"]["body"])))
    return sorted(out, key=lambda o: (ORDER[o[0]], o[1]))


def measure(registrations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    objects = _objects(registrations)
    em = NsxEmulator(password=PASSWORD, faults=Faults(rate=0.0, seed=1))
    em.start()
    try:
        conn = {
            "host": "127.0.0.1",
            "port": em.port,
            "scheme": "http",
            "username": em.username,
            "auth": "session",
            "timeoutSeconds": 10,
            "maxRetries": 2,
        }
        state: dict[str, dict[str, Any]] = {}
        phases: dict[str, dict[str, Any]] = {}
        logins = 0

        def props(path: str, body: dict[str, Any]) -> dict[str, Any]:
            return {"path": path, "body": body, "connection": dict(conn), "password": PASSWORD}

        def phase(name: str, step: Any) -> None:
            nonlocal logins
            nsx_provider.close_clients()  # a new provider process per pulumi command
            before, sessions_before = len(em.requests), _sessions_created(em)
            for kind, path, body in objects:
                step(NsxProvider(kind), path, body)
            calls = Counter(method for method, _, _ in em.requests[before:])
            phases[name] = {
                "calls": dict(sorted(calls.items())),
                "total": sum(calls.values()),
                "per_object": round(sum(calls.values()) / len(objects), 2),
                "session_logins": _sessions_created(em) - sessions_before,
            }
            logins += phases[name]["session_logins"]

        def create(p: NsxProvider, path: str, body: dict[str, Any]) -> None:
            news = props(path, body)
            checked = p.check({}, news)
            assert not checked.failures, checked.failures
            state[path] = dict(p.create(news).outs or {})

        def noop(p: NsxProvider, path: str, body: dict[str, Any]) -> None:
            news = props(path, body)
            p.check(state[path], news)
            diff = p.diff(path, state[path], news)
            assert not diff.changes, f"unchanged inputs give a diff for {path}"

        def refresh(p: NsxProvider, path: str, body: dict[str, Any]) -> None:
            assert p.read(path, state[path]).id == path

        def update(p: NsxProvider, path: str, body: dict[str, Any]) -> None:
            p.update(path, state[path], props(path, body))

        phase("create", create)
        phase("no-op update (check + diff)", noop)
        phase("refresh (read)", refresh)
        phase("update with unchanged bodies", update)
        nsx_provider.close_clients()
        kinds = Counter(k for k, _, _ in objects)
        only_reads = all(set(p["calls"]) <= {"GET"} for name, p in phases.items() if name != "create")
        return {"objects": dict(sorted(kinds.items())), "phases": phases, "only_reads_after_create": only_reads}
    finally:
        em.stop()


def _sessions_created(em: NsxEmulator) -> int:
    """Sessions alive now: each phase starts after the previous phase's clients ended theirs."""
    return len(em.sessions)
