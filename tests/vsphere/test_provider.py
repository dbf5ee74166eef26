"""The dynamic provider driven against the NSX emulator: create, update, delete, faults, serialization."""

from __future__ import annotations

import base64
import logging
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.vsphere import nsx_provider
from components.vsphere.nsx_client import NsxApiError, NsxError
from components.vsphere.nsx_provider import NsxProvider
from tests.environments import JENKINS, edit_cluster, environment, remove_cluster

from .nsx_emulator import Faults, NsxEmulator
from .support import PASSWORD, MiniEngine, assert_state_equals, connection, desired_objects, round_trip


def _steps() -> list[tuple[str, dict[str, Any]]]:
    """Create, then the updates users make, then a config with a single cluster (the workload one removed)."""
    first = environment("vsphere")
    more_clients = environment("vsphere", clients={"api": [*first["clients"]["api"], "192.168.50.0/24"]})
    with_jenkins = environment("vsphere", clients=more_clients["clients"], managementTools=JENKINS)
    port_options = edit_cluster(with_jenkins, "prod", controlPlane={"apiServerPort": 443}, etcd={"clientPort": 12379, "peerPort": 12380})
    audit = environment("vsphere", clients=more_clients["clients"], managementTools=JENKINS, vsphere={"nsx": {"mode": "audit"}})
    shrunk = remove_cluster(environment("vsphere"), "prod")
    return [
        ("create", first),
        ("add a client range", more_clients),
        ("enable Jenkins", with_jenkins),
        ("apiServerPort 443 and custom etcd ports", port_options),
        ("audit mode", audit),
        ("remove a cluster", shrunk),
    ]


@pytest.fixture
def emulator() -> Iterator[NsxEmulator]:
    em = NsxEmulator(password=PASSWORD, faults=Faults(rate=0.0, seed=7))
    em.start()
    try:
        yield em
    finally:
        nsx_provider.close_clients()
        em.stop()


@pytest.mark.parametrize(("rate", "dill_round_trip", "auth"), [(0.0, False, "session"), (0.2, True, "session"), (0.2, False, "basic")])
def test_lifecycle_converges_to_the_desired_objects(emulator: NsxEmulator, rate: float, dill_round_trip: bool, auth: str) -> None:
    emulator.faults.rate = rate
    engine = MiniEngine(connection(emulator, auth=auth), dill_round_trip=dill_round_trip)
    previous: set[str] = set()
    for what, config in _steps():
        desired = desired_objects(config)
        engine.converge(desired)
        assert_state_equals(emulator, desired)
        if what == "enable Jenkins":
            assert any(p.endswith("peer-jenkins") for p in set(desired) - previous)
        previous = set(desired)
    engine.converge({})
    assert emulator.state() == {}, "orphans left in NSX"
    if rate:
        assert sum(emulator.faults.counts.values()) > 20, emulator.faults.counts  # the faults really happened


def test_update_replaces_rules_a_patch_would_keep(emulator: NsxEmulator) -> None:
    engine = MiniEngine(connection(emulator))
    with_jenkins = environment("vsphere", managementTools=JENKINS)
    engine.converge(desired_objects(with_jenkins))
    policy = "/infra/domains/default/security-policies/eksa-mgmt"
    assert any(r["id"] == "jenkins-to-control-plane" for r in emulator.state()[policy]["rules"])
    engine.converge(desired_objects(environment("vsphere")))
    assert not any(r["id"] == "jenkins-to-control-plane" for r in emulator.state()[policy]["rules"])
    assert_state_equals(emulator, desired_objects(environment("vsphere")))


def test_update_retries_after_a_concurrent_change(emulator: NsxEmulator) -> None:
    engine = MiniEngine(connection(emulator))
    engine.converge(desired_objects(environment("vsphere")))
    path = "/infra/domains/default/groups/eksa-peer-api-clients"
    # Somebody else edits the group: our stored revision is now stale; the provider re-reads and replaces.
    emulator.put_object(path, {**emulator.state()[path], "description": "edited by hand"})
    target = environment("vsphere", clients={"api": ["10.21.0.0/16"]})  # another API client range
    engine.converge(desired_objects(target))
    assert_state_equals(emulator, desired_objects(target))
    assert ("PUT", path, 200) in emulator.requests


def test_create_refuses_an_object_owned_by_someone_else(emulator: NsxEmulator) -> None:
    desired = desired_objects(environment("vsphere"))
    path = "/infra/domains/default/groups/eksa-peer-admin-machine"
    emulator.put_object(path, {"expression": [], "tags": [{"scope": "eksa-firewall/owner", "tag": "other/stack"}]})
    engine = MiniEngine(connection(emulator))
    with pytest.raises(NsxError, match="not managed by"):
        engine.converge({path: desired[path]})
    assert emulator.state()[path]["expression"] == []


def test_create_adopts_its_own_leftover(emulator: NsxEmulator) -> None:
    desired = desired_objects(environment("vsphere"))
    path = "/infra/domains/default/groups/eksa-peer-admin-machine"
    emulator.put_object(path, {**desired[path].body, "expression": []})  # a run interrupted before state was saved
    MiniEngine(connection(emulator)).converge({path: desired[path]})
    assert_state_equals(emulator, {path: desired[path]})


def test_delete_of_a_missing_object_is_done(emulator: NsxEmulator) -> None:
    NsxProvider("group").delete("/infra/domains/default/groups/nothing", {"connection": connection(emulator), "password": PASSWORD})
    assert ("DELETE", "/infra/domains/default/groups/nothing", 404) in emulator.requests


def test_delete_of_a_referenced_group_surfaces_nsx_message(emulator: NsxEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nsx_provider.time, "sleep", lambda _s: None)
    engine = MiniEngine(connection(emulator))
    engine.converge(desired_objects(environment("vsphere")))
    path = "/infra/domains/default/groups/eksa-mgmt-worker"
    _, outs = engine.state[path]
    with pytest.raises(NsxApiError) as info:
        NsxProvider("group").delete(path, outs)
    assert info.value.status == 400
    assert info.value.error_code == 500030
    assert "being referenced" in str(info.value)
    assert sum(1 for m, p, s in emulator.requests if m == "DELETE" and p == path and s == 400) == nsx_provider.MAX_DELETE_WAITS


def test_emulator_refuses_an_all_any_rule_and_the_provider_says_why(emulator: NsxEmulator) -> None:
    body = {
        "resource_type": "SecurityPolicy",
        "category": "Application",
        "rules": [
            {
                "id": "everything",
                "action": "ALLOW",
                "source_groups": ["ANY"],
                "destination_groups": ["ANY"],
                "services": ["ANY"],
                "scope": ["ANY"],
            }
        ],
    }
    props = {"path": "/infra/domains/default/security-policies/bad", "body": body, "connection": connection(emulator), "password": PASSWORD}
    with pytest.raises(NsxApiError, match="cannot all be ANY") as info:
        NsxProvider("policy").create(props)
    assert info.value.status == 400


def test_diff_reports_changes_and_replacements(emulator: NsxEmulator) -> None:
    d = desired_objects(environment("vsphere"))["/infra/domains/default/groups/eksa-peer-api-clients"]
    olds = {"path": d.path, "body": d.body, "connection": connection(emulator), "password": PASSWORD}
    p = NsxProvider("group")
    assert not p.diff(d.path, olds, dict(olds)).changes
    floats = {
        **olds,
        "body": {**d.body, "expression": d.body["expression"]},
        "connection": {**olds["connection"], "port": float(emulator.port)},
    }
    assert not p.diff(d.path, olds, floats).changes  # Pulumi's floats are the same numbers
    changed = {**olds, "body": {**d.body, "description": "x"}}
    assert p.diff(d.path, olds, changed).changes
    moved = {**olds, "path": d.path + "-2"}
    assert p.diff(d.path, olds, moved).replaces == ["path"]
    new_code = {**olds, "__provider": "v2"}
    assert p.diff(d.path, {**olds, "__provider": "v1"}, new_code).changes  # a new provider version is recorded
    assert not p.diff(d.path, {**olds, "__provider": "v1"}, {**olds, "__provider": "v1"}).changes
    other_host = {**olds, "connection": {**olds["connection"], "host": "nsx2"}}
    assert "connection" in (p.diff(d.path, olds, other_host).replaces or [])


def test_check_rejects_a_wrong_path() -> None:
    result = NsxProvider("service").check({}, {"path": "/infra/domains/default/groups/x", "body": {"resource_type": "Service"}})
    assert [f.property for f in result.failures] == ["path"]


def test_the_serialized_provider_is_its_kind_and_its_code_and_nothing_else() -> None:
    from pathlib import Path

    from pulumi.dynamic import ConfigureRequest
    from pulumi.dynamic.config import Config

    p = NsxProvider("policy")
    before = serialize_provider(p)
    p.configure(ConfigureRequest(Config({"eksa-firewall:nsxPassword": PASSWORD}, "eksa-firewall")))
    assert serialize_provider(p) == before  # configure() reads a password: never pickled
    call, (expression, namespace) = p.__reduce__()
    assert call is eval and expression == "exec(LOADER) or provider"
    assert sorted(namespace) == ["KIND", "LOADER", "SOURCES"] and namespace["KIND"] == "policy"
    here = Path(nsx_provider.__file__).parent
    assert {name: zlib.decompress(text) for name, text in namespace["SOURCES"]} == {
        name: (here / f"{name}.py").read_bytes() for name in ("nsx_client", "nsx_provider")
    }
    loaded = round_trip(p)
    assert loaded.kind == "policy" and type(loaded).__module__.startswith("eksa_firewall_nsx_")
    assert PASSWORD.encode() not in base64.b64decode(before)


def test_password_from_configure_is_used_when_no_input(emulator: NsxEmulator) -> None:
    from pulumi.dynamic import ConfigureRequest
    from pulumi.dynamic.config import Config

    p = NsxProvider("service")
    with pytest.raises(NsxError, match="no NSX password"):
        p.create({"path": "/infra/services/s", "body": _service(), "connection": connection(emulator)})
    p.configure(ConfigureRequest(Config({"eksa-firewall:nsxPassword": PASSWORD}, "eksa-firewall")))
    result = p.create({"path": "/infra/services/s", "body": _service(), "connection": connection(emulator)})
    assert result.id == "/infra/services/s"
    assert "/infra/services/s" in emulator.state()


def test_errors_and_logs_never_show_the_password(emulator: NsxEmulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.faults.rate = 0.3
    engine = MiniEngine(connection(emulator))
    engine.converge(desired_objects(environment("vsphere")))
    emulator.expire_sessions()  # forces 403/98 and a new session
    engine.converge(desired_objects(environment("vsphere", managementTools=JENKINS)))
    with pytest.raises(NsxApiError) as info:
        NsxProvider("group").create(
            {
                "path": "/infra/domains/default/groups/x",
                "body": {"expression": []},
                "connection": connection(emulator),
                "password": "wrong-" + PASSWORD,
            }
        )
    assert info.value.status == 403
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in caplog.text
    tokens = list(emulator.sessions.values())
    assert tokens and not any(t in caplog.text for t in tokens)
    assert "session expired" in caplog.text  # the renewal happened and was logged (without the token)


def _service() -> dict[str, Any]:
    return {
        "resource_type": "Service",
        "service_entries": [{"resource_type": "L4PortSetServiceEntry", "id": "tcp", "l4_protocol": "TCP", "destination_ports": ["22"]}],
    }
