"""The REST client against the emulator: auth, TLS, retries, timeouts, errors; bounded in every case."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.vsphere.nsx_client import (
    NsxApiError,
    NsxAuthError,
    NsxClient,
    NsxError,
    NsxTimeoutError,
    NsxTlsError,
    NsxUnavailableError,
)

from .nsx_emulator import Faults, NsxEmulator, self_signed_certificate
from .support import PASSWORD

GROUP = "/infra/domains/default/groups/g1"


@pytest.fixture
def emulator() -> Iterator[NsxEmulator]:
    with NsxEmulator(password=PASSWORD) as em:
        yield em


def client(em: NsxEmulator, **kw: object) -> NsxClient:
    sleeps: list[float] = []
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": em.port,
        "scheme": "https" if em.tls else "http",
        "username": em.username,
        "password": PASSWORD,
        "timeout": 2.0,
        "max_retries": 3,
        "sleep": sleeps.append,
    }
    options.update(kw)
    c = NsxClient(**options)  # type: ignore[arg-type]
    c.sleeps = sleeps  # type: ignore[attr-defined]
    return c


def group(ips: list[str]) -> dict[str, object]:
    return {"resource_type": "Group", "expression": [{"resource_type": "IPAddressExpression", "ip_addresses": ips}]}


def test_session_auth_sends_the_xsrf_token_and_renews_an_expired_session(emulator: NsxEmulator) -> None:
    c = client(emulator)
    c.patch(GROUP, group(["10.0.0.1"]))
    assert len(emulator.sessions) == 1
    emulator.expire_sessions()
    assert c.get(GROUP) is not None  # 403/98, new session, same call again
    assert len(emulator.sessions) == 1
    assert [s for m, p, s in emulator.requests if p == GROUP] == [200, 403, 200]
    c.close()
    assert emulator.sessions == {}


def test_basic_auth_uses_no_session(emulator: NsxEmulator) -> None:
    c = client(emulator, auth="basic")
    c.patch(GROUP, group(["10.0.0.1"]))
    assert emulator.sessions == {}
    assert c.get(GROUP)["expression"][0]["ip_addresses"] == ["10.0.0.1"]  # type: ignore[index]


@pytest.mark.parametrize("auth", ["session", "basic"])
def test_bad_credentials_are_an_auth_error_without_the_password(emulator: NsxEmulator, auth: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-" + PASSWORD
    with pytest.raises(NsxAuthError) as info:
        client(emulator, auth=auth, password=wrong).get(GROUP)
    assert info.value.status == 403 and info.value.error_code == 403
    assert wrong not in str(info.value) and wrong not in caplog.text and wrong not in repr(info.value)


def test_put_needs_the_current_revision(emulator: NsxEmulator) -> None:
    c = client(emulator)
    c.patch(GROUP, group(["10.0.0.1"]))
    current = c.get(GROUP)
    assert current is not None
    with pytest.raises(NsxApiError) as info:
        c.put(GROUP, group(["10.0.0.2"]))  # no _revision
    assert info.value.status == 412
    c.put(GROUP, {**group(["10.0.0.2"]), "_revision": current["_revision"]})
    with pytest.raises(NsxApiError):
        c.put(GROUP, {**group(["10.0.0.3"]), "_revision": current["_revision"]})  # stale now


def test_nsx_refusals_carry_nsx_code_and_message(emulator: NsxEmulator) -> None:
    c = client(emulator)
    with pytest.raises(NsxApiError) as info:
        c.patch(
            "/infra/services/s",
            {
                "service_entries": [
                    {
                        "resource_type": "L4PortSetServiceEntry",
                        "id": "tcp",
                        "l4_protocol": "TCP",
                        "destination_ports": [str(p) for p in range(1, 17)],
                    }
                ]
            },
        )
    assert info.value.status == 400 and info.value.error_code == 500080
    assert "at most 15" in str(info.value)
    assert c.get("/infra/services/s") is None
    assert c.delete("/infra/services/s") is False  # 404 on delete: already done


def test_retries_busy_answers_a_bounded_number_of_times(emulator: NsxEmulator) -> None:
    emulator.faults = Faults(rate=1.0, kinds=("429",))
    c = client(emulator, auth="basic", max_retries=3, backoff=0.5, max_backoff=4)
    with pytest.raises(NsxUnavailableError, match="unavailable") as info:
        c.get(GROUP)
    assert info.value.status == 429 and info.value.attempts == 4
    assert not isinstance(info.value, NsxApiError)  # busy is not a refusal
    assert len(c.sleeps) == 3  # type: ignore[attr-defined]
    # jittered exponential backoff: each delay in [d/2, d] for d = 0.5, 1, 2
    for delay, cap in zip(c.sleeps, (0.5, 1.0, 2.0), strict=True):  # type: ignore[attr-defined]
        assert cap / 2 <= delay <= cap


@pytest.mark.parametrize("kind", ["503", "607", "drop", "slow"])
def test_transient_faults_are_retried_until_the_call_succeeds(emulator: NsxEmulator, kind: str) -> None:
    emulator.faults = Faults(rate=0.5, seed=3, kinds=(kind,), slow_seconds=0.3)
    c = client(emulator, max_retries=10, timeout=0.1 if kind == "slow" else 2.0)
    for i in range(10):
        c.patch(
            f"/infra/services/s{i}",
            {
                "service_entries": [
                    {"resource_type": "L4PortSetServiceEntry", "id": "tcp", "l4_protocol": "TCP", "destination_ports": ["22"]}
                ]
            },
        )
    assert sorted(emulator.state()) == sorted(f"/infra/services/s{i}" for i in range(10))
    assert sum(emulator.faults.counts.values()) > 0


def test_connection_errors_give_up_after_the_retries(emulator: NsxEmulator) -> None:
    emulator.faults = Faults(rate=1.0, kinds=("drop",))
    c = client(emulator, auth="basic", max_retries=2)
    with pytest.raises(NsxUnavailableError, match="after 3 attempts"):
        c.get(GROUP)


def test_a_503_from_session_creation_is_unavailability_not_authentication(emulator: NsxEmulator) -> None:
    emulator.faults = Faults(rate=1.0, kinds=("503",))
    c = client(emulator, max_retries=2)
    with pytest.raises(NsxUnavailableError, match="unavailable") as info:
        c.get(GROUP)
    assert not isinstance(info.value, NsxApiError)
    assert info.value.status == 503 and info.value.attempts == 3
    assert "credentials" not in str(info.value)
    assert [p for _, p, _ in emulator.requests] == []  # never got past the session


def test_a_dripping_server_is_cut_off_at_the_deadline_not_kept_alive_by_each_byte(emulator: NsxEmulator) -> None:
    """The whole exchange has one deadline. The clock is injected: each look at it is 0.1 s later, so an
    attempt with timeout 1 s ends after at most 10 looks, however fast or slow the bytes come."""
    emulator.faults = Faults(rate=1.0, kinds=("drip",), drip_seconds=0.002, drip_bytes=5000)
    looks: list[int] = []

    def clock() -> float:
        looks.append(1)
        return len(looks) * 0.1

    c = client(emulator, auth="basic", timeout=1.0, max_retries=2, clock=clock)
    with pytest.raises(NsxTimeoutError) as info:
        c.get(GROUP)
    assert isinstance(info.value, NsxUnavailableError)
    assert info.value.attempts == 3
    assert 0 < info.value.received < 5000  # cut off in the middle of the answer
    assert len(looks) <= 3 * 11  # (deadline + 10 reads) per attempt: bounded by the deadline, not by the answer
    assert len(c.sleeps) == 2  # type: ignore[attr-defined]


def test_a_dripping_server_with_the_real_clock(emulator: NsxEmulator) -> None:
    # 5 ms a byte never trips a per-read timeout; only a total deadline stops the 10 s answer.
    emulator.faults = Faults(rate=1.0, kinds=("drip",), drip_seconds=0.005, drip_bytes=2000)
    c = client(emulator, auth="basic", timeout=0.3, max_retries=0)
    with pytest.raises(NsxTimeoutError, match=r"timeoutSeconds=0\.3") as info:
        c.get(GROUP)
    assert info.value.received < 2000


def test_lists_follow_the_cursor(emulator: NsxEmulator) -> None:
    c = client(emulator)
    for i in range(5):
        c.patch(f"/infra/domains/default/groups/g{i}", group([f"10.0.0.{i + 1}"]))
    before = len(emulator.requests)
    items = c.list("/infra/domains/default/groups", page_size=2)
    assert [i["id"] for i in items] == [f"g{i}" for i in range(5)]
    assert len(emulator.requests) - before == 3  # pages of 2, 2 and 1


def test_a_missing_password_is_refused_before_any_call() -> None:
    with pytest.raises(NsxError, match="nsxPassword"):
        NsxClient(host="nsx", username="u", password="")


# --- TLS ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_emulator(certificate: tuple[str, str]) -> Iterator[NsxEmulator]:
    with NsxEmulator(password=PASSWORD, tls=certificate) as em:
        yield em


def make_certificate(directory: Path, name: str, san: str) -> tuple[str, str]:
    cert, key = directory / f"{name}.pem", directory / f"{name}-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


def test_tls_is_verified_by_default(tls_emulator: NsxEmulator) -> None:
    with pytest.raises(NsxTlsError, match=r"does not trust.*give the NSX Manager's CA as nsx\.caBundle") as info:
        client(tls_emulator).get(GROUP)
    assert info.value.reason == "unknown-ca"


def test_tls_name_mismatch_says_so_and_does_not_blame_the_ca_bundle(tmp_path: Path) -> None:
    cert = make_certificate(tmp_path, "nsx.example.com", "DNS:nsx.example.com")
    mismatch = pytest.raises(NsxTlsError, match=r"not valid for the name '127\.0\.0\.1'")
    with NsxEmulator(password=PASSWORD, tls=cert) as em, mismatch as info:
        client(em, ca_bundle=cert[0]).get(GROUP)
    assert info.value.reason == "name-mismatch"
    assert "caBundle" not in str(info.value)


def test_tls_signed_by_another_ca_than_the_bundle(tls_emulator: NsxEmulator, tmp_path: Path) -> None:
    other = make_certificate(tmp_path, "other-ca", "IP:127.0.0.1")
    with pytest.raises(NsxTlsError, match=r"not signed by the CA in nsx\.caBundle") as info:
        client(tls_emulator, ca_bundle=other[0]).get(GROUP)
    assert info.value.reason == "unknown-ca"


def test_tls_with_a_ca_bundle_path_or_pem_text(tls_emulator: NsxEmulator, certificate: tuple[str, str]) -> None:
    assert client(tls_emulator, ca_bundle=certificate[0]).get(GROUP) is None
    pem = Path(certificate[0]).read_text(encoding="ascii")
    c = client(tls_emulator, ca_bundle=pem)
    assert c.get(GROUP) is None
    c.close()


def test_tls_unverified_only_when_asked(tls_emulator: NsxEmulator, caplog: pytest.LogCaptureFixture) -> None:
    assert client(tls_emulator, insecure=True).get(GROUP) is None
    assert "verification is OFF" in caplog.text
