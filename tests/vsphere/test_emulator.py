"""The emulator is strict where the reference is: tested through the real client, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from components.vsphere.nsx_client import NsxApiError, NsxClient

from .nsx_emulator import NsxEmulator
from .support import PASSWORD

G = "/infra/domains/default/groups/"
P = "/infra/domains/default/security-policies/p"


@pytest.fixture
def nsx() -> Iterator[NsxClient]:
    with NsxEmulator(password=PASSWORD) as em:
        c = NsxClient(host="127.0.0.1", port=em.port, scheme="http", username=em.username, password=PASSWORD, max_retries=0)
        c.patch(G + "a", {"expression": [{"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.1"]}]})
        c.patch(
            "/infra/services/ssh",
            {
                "service_entries": [
                    {"resource_type": "L4PortSetServiceEntry", "id": "tcp", "l4_protocol": "TCP", "destination_ports": ["22"]}
                ]
            },
        )
        yield c
        c.close()


def rule(rid: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "action": "ALLOW",
        "source_groups": ["ANY"],
        "destination_groups": [G + "a"],
        "services": ["/infra/services/ssh"],
        **kw,
    }


def refused(nsx: NsxClient, path: str, body: dict[str, Any], code: int | None = None, status: int = 400) -> str:
    with pytest.raises(NsxApiError) as info:
        nsx.patch(path, body)
    assert info.value.status == status
    if code is not None:
        assert info.value.error_code == code
    return str(info.value)


def cond(i: int) -> dict[str, Any]:
    return {"resource_type": "Condition", "member_type": "VirtualMachine", "key": "Name", "operator": "STARTSWITH", "value": f"vm{i}"}


def test_group_contract(nsx: NsxClient) -> None:
    or_ = {"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"}
    six = [x for i in range(6) for x in (cond(i), or_)][:-1]
    assert "at most 5" in refused(nsx, G + "b", {"expression": six})
    assert "alternate" in refused(nsx, G + "b", {"expression": [cond(1), cond(2)]})
    refused(nsx, G + "b", {"expression": [{**cond(1), "operator": "LIKE"}]}, 255)  # the vendor model's enum
    refused(nsx, G + "b", {"expression": [{**cond(1), "oprator": "EQUALS"}]}, 255)  # a field the model does not have
    refused(nsx, G + "b", {"expression": [{k: v for k, v in cond(1).items() if k != "resource_type"}]})  # required
    mixed = {"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.1", "fd00::1"]}
    assert "IPv4 and IPv6" in refused(nsx, G + "b", {"expression": [mixed]}, 500095)
    refused(nsx, G + "b", {"expression": [{"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.300"]}]}, 500095)
    refused(nsx, G + "b", {"expression": [{"resource_type": "IPAddressExpression", "ip_addresses": []}]})
    refused(nsx, G + "b", {"id": "other", "expression": []})


def test_what_the_vendor_model_allows_and_our_notes_did_not(nsx: NsxClient) -> None:
    """Accepted since the vendor model replaced our notes: an empty condition value ("not evaluated"), a group
    without expression, a rule without action (ALLOW) and a rule tag over 32 characters (NSX keeps 32)."""
    nsx.patch(G + "c", {"expression": [{**cond(1), "value": ""}]})
    nsx.patch(G + "d", {"display_name": "no expression"})
    nsx.patch(P, {"rules": [{k: v for k, v in rule("r", tag="t" * 40).items() if k != "action"}]})
    got = nsx.get(P)
    assert got is not None and got["rules"][0]["action"] == "ALLOW" and got["rules"][0]["tag"] == "t" * 32


def test_policy_contract(nsx: NsxClient) -> None:
    refused(nsx, P, {"category": "Apps", "rules": []})
    refused(nsx, P, {"rules": [rule("r", action="PERMIT")]})
    refused(nsx, P, {"rules": [rule("r", direction="INBOUND")]})
    refused(nsx, P, {"rules": [rule("r", source_group=["ANY"])]}, 255)  # a misspelt field
    refused(nsx, P, {"sequence_number": 1_000_000, "rules": []})
    refused(nsx, P, {"rules": [rule("r", action="JUMP_TO_APPLICATION")]})
    refused(nsx, P, {"rules": [rule("r", source_groups=["ANY", G + "a"])]})
    refused(nsx, P, {"rules": [rule("r", source_groups=[f"10.0.{i // 256}.{i % 256}" for i in range(129)])]}, 500104)
    refused(nsx, P, {"rules": [rule("r", services=["/infra/services/nope"])]}, 500012)
    refused(nsx, P, {"rules": [rule("r", destination_groups=["ANY"])]}, 520001)
    refused(nsx, P, {"rules": [rule("r"), rule("r")]})
    nsx.patch(P, {"category": "Application", "rules": [rule("r1"), rule("r2", destination_groups=["ANY"], scope=[G + "a"])]})
    got = nsx.get(P)
    assert got is not None and got["scope"] == ["ANY"] and got["rules"][0]["direction"] == "IN_OUT"


def test_patch_keeps_rules_put_replaces_them(nsx: NsxClient) -> None:
    nsx.patch(P, {"rules": [rule("r1"), rule("r2")]})
    nsx.patch(P, {"rules": [rule("r3")]})
    current = nsx.get(P)
    assert current is not None
    assert [r["id"] for r in current["rules"]] == ["r1", "r2", "r3"]
    nsx.put(P, {"rules": [rule("r3")], "_revision": current["_revision"]})
    assert [r["id"] for r in nsx.get(P)["rules"]] == ["r3"]  # type: ignore[index]


def test_referenced_objects_cannot_be_deleted_until_the_policy_is_gone(nsx: NsxClient) -> None:
    nsx.patch(P, {"rules": [rule("r1")]})
    for path in (G + "a", "/infra/services/ssh"):
        with pytest.raises(NsxApiError) as info:
            nsx.delete(path)
        assert (info.value.status, info.value.error_code) == (400, 500030)
    assert nsx.delete(P) is True
    assert nsx.delete(G + "a") is True and nsx.delete("/infra/services/ssh") is True
    assert nsx.delete(G + "a") is False


def test_unknown_paths_and_domains_are_404(nsx: NsxClient) -> None:
    assert nsx.get("/infra/domains/other/groups/a") is None
    assert nsx.get("/infra/tier-1s/t1") is None
