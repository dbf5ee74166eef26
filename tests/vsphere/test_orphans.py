"""`eksa-firewall orphans`: lists the NSX objects under the stack's id prefix that state does not know, and
removes this stack's on request. Through the command line, against the emulator over TLS."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.cli import main
from components.vsphere import nsx_provider
from tests.environments import environment

from .nsx_emulator import NsxEmulator, self_signed_certificate
from .support import PASSWORD, MiniEngine, desired_objects

ROOT = Path(__file__).resolve().parents[2]
OWNER = "eksa-firewall/lab"  # <project>/<stack>: the stack file is Pulumi.lab.yaml
ORPHAN = "/infra/domains/default/groups/eksa-left-by-a-lost-create"
FOREIGN = "/infra/domains/default/groups/eksa-of-another-team"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def emulator(certificate: tuple[str, str]) -> Iterator[NsxEmulator]:
    with NsxEmulator(password=PASSWORD, tls=certificate) as em:
        yield em
    nsx_provider.close_clients()


def stack_file(tmp_path: Path, em: NsxEmulator, ca: str) -> Path:
    config = environment("vsphere")
    config["vsphere"]["nsx"].update(host="127.0.0.1", port=em.port, caBundle=ca, maxRetries=1)
    path = tmp_path / "Pulumi.lab.yaml"
    path.write_text(yaml.safe_dump({"config": {f"eksa-firewall:{k}": v for k, v in config.items()}}), encoding="utf-8")
    return path


def export_of(engine: MiniEngine) -> dict[str, Any]:
    """What `pulumi stack export` holds for these resources (the fields the command reads)."""
    kinds = {"group": "Group", "service": "Service", "policy": "SecurityPolicy", "cleanup-all": "Cleanup", "cleanup-policies": "Cleanup"}
    resources = [
        {"urn": f"urn:{p}", "type": f"pulumi-python:dynamic/nsx:{kinds[k]}", "id": p, "outputs": outs}
        for p, (k, outs) in engine.state.items()
    ]
    return {"version": 3, "deployment": {"manifest": {}, "resources": [{"type": "pulumi:pulumi:Stack", "urn": "urn:stack"}, *resources]}}


def orphans(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["orphans", "--project-dir", str(ROOT), *args])
    return code, out.getvalue(), err.getvalue()


def test_lists_the_objects_state_does_not_know_and_removes_this_stacks(
    emulator: NsxEmulator, certificate: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = {"host": "127.0.0.1", "port": emulator.port, "caBundle": certificate[0], "username": "admin", "maxRetries": 1}
    engine = MiniEngine(conn, owner=OWNER)
    desired = desired_objects(environment("vsphere"))
    engine.converge(desired)
    group = {"expression": [{"resource_type": "IPAddressExpression", "ip_addresses": ["10.9.9.9"]}]}
    emulator.put_object(ORPHAN, {**group, "tags": [{"scope": nsx_provider.OWNER_SCOPE, "tag": OWNER}]})
    emulator.put_object(FOREIGN, {**group, "tags": [{"scope": nsx_provider.OWNER_SCOPE, "tag": "eksa-firewall/other"}]})
    state = tmp_path / "state.json"
    state.write_text(json.dumps(export_of(engine)), encoding="utf-8")
    stack = stack_file(tmp_path, emulator, certificate[0])
    monkeypatch.setenv("NSX_PASSWORD", PASSWORD)

    code, out, err = orphans("--stack-file", str(stack), "--state", str(state))
    assert (code, err) == (1, "")
    assert f"{ORPHAN}  (this stack's)" in out and f"{FOREIGN}  (owned by 'eksa-firewall/other': left alone)" in out
    assert sum(1 for line in out.splitlines() if line.startswith("  ")) == 2  # nothing state knows is listed

    code, out, _ = orphans("--stack-file", str(stack), "--state", str(state), "--delete")
    assert code == 0 and "removed 1 object(s)" in out
    assert ORPHAN not in emulator.state() and FOREIGN in emulator.state()
    assert set(desired) <= set(emulator.state())  # what state knows is untouched
    assert orphans("--stack-file", str(stack), "--state", str(state))[0] == 0


def test_errors_are_one_line_without_traceback(
    emulator: NsxEmulator, certificate: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = stack_file(tmp_path, emulator, certificate[0])
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"deployment": {"resources": []}}), encoding="utf-8")
    monkeypatch.delenv("NSX_PASSWORD", raising=False)
    assert orphans("--stack-file", str(stack), "--state", str(state))[::2] == (
        2,
        "eksa-firewall: set NSX_PASSWORD to the NSX password of 'admin'\n",
    )
    monkeypatch.setenv("NSX_PASSWORD", "wrong")
    code, _, err = orphans("--stack-file", str(stack), "--state", str(state))
    assert code == 2 and "refused the credentials" in err and "Traceback" not in err
    state.write_text("[]", encoding="utf-8")
    assert orphans("--stack-file", str(stack), "--state", str(state))[0] == 2
