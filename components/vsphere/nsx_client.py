"""A small client of the NSX Policy REST API: the only module of this project that does HTTP.

Standard library only (``http.client``, ``ssl``): the dynamic provider ships this module's source to the process
that runs it (see ``nsx_provider.serialized_provider``), and that process may have nothing but the Pulumi SDK.

What it does for its callers (the dynamic provider, the ``orphans`` command, the tests):
- authentication: a session (``POST /api/session/create``, JSESSIONID cookie + X-XSRF-TOKEN header, renewed on
  403 error 98) or HTTP basic auth on every call;
- TLS verified by default (the system's trust store, or only the CA bundle given); ``insecure`` only by
  explicit opt-in;
- a **total deadline per HTTP exchange**: ``timeout`` seconds from connecting to the last byte of the answer.
  Every socket operation waits at most for what is left of it, so a server that sends one byte at a time is cut
  off at the deadline, not kept alive by each byte. Only the system's name resolution runs outside it (the
  margin: it has no timeout of its own here). An exchange cut off counts as one failed attempt;
- bounded retries with jittered exponential backoff on 429, 503, 504, 500/607, lost connections and deadlines
  (every call this client makes is idempotent: GET, PATCH of a whole object, PUT with a ``_revision``,
  DELETE). One verb therefore takes at most ``(max_retries + 1) * timeout`` plus the backoff sleeps;
- each failure raised as the class of what happened:
  ``NsxApiError`` NSX answered and refused (its own ``error_code`` and ``error_message``),
  ``NsxAuthError`` the credentials were refused, ``NsxUnavailableError`` no usable answer after every retry
  (unreachable, busy, or ``NsxTimeoutError``: no complete answer within the deadline), ``NsxTlsError`` the
  server's certificate was not accepted (with the reason: wrong name, unknown CA, expired).

The password, the session cookie and the XSRF token never appear in a log line, an exception or ``repr``:
every text this module builds from a server answer passes through ``_redact``.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import logging
import math
import os
import random
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import quote, urlencode

log = logging.getLogger(__name__)

API = "/policy/api/v1"
RETRY_STATUS = (429, 503, 504)
RETRY_ERROR_CODES = {(500, 607)}  # transaction aborted: retry (vmware-nsxlib does)
XSRF_ERROR_CODE = 98  # 403 with error_code 98: bad or expired XSRF token / session: create a new session
REDACTED = "[redacted]"
# OpenSSL's verify codes (include/openssl/x509_vfy.h) that the TLS errors name.
_CERT_EXPIRED = 10
_UNKNOWN_ISSUER = (18, 19, 20, 21)  # self-signed, self-signed in chain, no local issuer, cannot verify leaf
_NAME_MISMATCH = (62, 64)  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH


class NsxError(Exception):
    """Base class of the client's errors; messages never carry credentials."""


class NsxApiError(NsxError):
    """NSX answered with an error: ``status`` and NSX's own ``error_code`` and ``error_message``."""

    def __init__(self, method: str, path: str, status: int, error_code: int | None, message: str, details: str = "") -> None:
        self.method = method
        self.path = path
        self.status = status
        self.error_code = error_code
        self.error_message = message
        self.details = details
        code = f", error_code {error_code}" if error_code is not None else ""
        extra = f" ({details})" if details and details != message else ""
        super().__init__(f"NSX refused {method} {path}: HTTP {status}{code}: {message}{extra}")


class NsxAuthError(NsxApiError):
    """The credentials were refused (401, or 403 other than a stale XSRF token)."""


class NsxUnavailableError(NsxError):
    """No usable answer after every retry: NSX unreachable, or busy (``status`` 429/503/504, 500/607)."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class NsxTimeoutError(NsxUnavailableError):
    """No complete answer within ``timeout`` seconds (the whole exchange), on every attempt."""

    def __init__(self, message: str, *, attempts: int = 0, received: int = 0) -> None:
        super().__init__(message, attempts=attempts)
        self.received = received  # bytes of the last answer read before it was cut off


class NsxTlsError(NsxError):
    """The server's TLS certificate was not accepted; ``reason`` is name-mismatch, unknown-ca, expired or other."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- transport: one HTTP exchange under one deadline -------------------------------------------------------


class DeadlineExceededError(TimeoutError):
    """The exchange's deadline passed (raised before a socket operation that has no time left)."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    reason: str
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class _DeadlineReader(io.RawIOBase):
    """The answer's bytes: every read waits at most for what is left of the deadline."""

    def __init__(self, sock: socket.socket, remaining: Callable[[], float], counter: list[int]) -> None:
        super().__init__()
        self._sock = sock
        self._remaining = remaining
        self._counter = counter

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._remaining())
        n = self._sock.recv_into(buffer)
        self._counter[0] += n
        return n


class _DeadlineSocket:
    """What ``http.client`` uses of a socket (sendall, makefile, close), each bounded by the deadline."""

    def __init__(self, sock: socket.socket, remaining: Callable[[], float], counter: list[int]) -> None:
        self._sock = sock
        self._remaining = remaining
        self._counter = counter

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self._remaining())  # since Python 3.5 the timeout bounds the whole sendall
        self._sock.sendall(data)

    def makefile(self, mode: str) -> io.BufferedReader:
        assert mode == "rb", mode
        return io.BufferedReader(_DeadlineReader(self._sock, self._remaining, self._counter))

    def close(self) -> None:
        self._sock.close()


class _Connection(http.client.HTTPConnection):
    """An HTTP(S) connection whose every socket operation ends by ``deadline`` (a value of ``clock``)."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None, clock: Callable[[], float]) -> None:
        super().__init__(host, port)
        self._context = context
        self._clock = clock
        self.deadline = math.inf
        self.received = [0]  # bytes read in the current exchange

    def remaining(self) -> float:
        left = self.deadline - self._clock()
        if left <= 0:
            raise DeadlineExceededError("deadline reached")
        return left

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.remaining())
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._context is not None:
                sock.settimeout(self.remaining())
                sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock = _DeadlineSocket(sock, self.remaining, self.received)  # type: ignore[assignment]


class _TransportError(Exception):
    """One exchange failed without an answer (internal: turned into NsxUnavailableError after the retries)."""

    def __init__(self, what: str, *, timed_out: bool, received: int = 0) -> None:
        super().__init__(what)
        self.timed_out = timed_out
        self.received = received


# --- the client -------------------------------------------------------------------------------------------


class NsxClient:
    def __init__(
        self,
        *,
        host: str,
        username: str,
        password: str,
        port: int = 443,
        scheme: str = "https",
        auth: str = "session",
        ca_bundle: str | None = None,
        insecure: bool = False,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 0.4,
        max_backoff: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if auth not in ("session", "basic"):
            raise ValueError(f"auth must be session or basic, not {auth!r}")
        if scheme not in ("https", "http"):
            raise ValueError(f"scheme must be https or http, not {scheme!r}")
        if not password:
            raise NsxError("no NSX password: set it with `pulumi config set --secret nsxPassword` (or pass nsxPassword to the component)")
        self.host = host.strip("[]")
        self.port = port
        self.base = f"{scheme}://{'[' + self.host + ']' if ':' in self.host else self.host}:{port}"
        self.username = username
        self.auth = auth
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock
        self._password = password
        self._xsrf: str | None = None
        self._session_cookie: str | None = None
        self._ca_given = bool(ca_bundle) and not insecure
        self._connection: _Connection | None = None
        self._context: ssl.SSLContext | None = None
        if scheme == "https":
            if insecure:
                self._context = ssl.create_default_context()
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE
                log.warning("NSX %s: TLS certificate verification is OFF (nsx.insecure: true)", self.base)
            elif ca_bundle:
                self._context = _ca_context(ca_bundle)  # this CA only, not the system's trust store
            else:
                self._context = ssl.create_default_context()
        self._basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode() if auth == "basic" else None

    def __repr__(self) -> str:
        return f"NsxClient({self.base}, user={self.username!r}, auth={self.auth})"

    # --- public verbs -----------------------------------------------------------------------------

    def get(self, path: str) -> dict[str, Any] | None:
        """The object at ``path`` (relative to /policy/api/v1), or None when NSX says 404."""
        resp = self._call("GET", path, missing_ok=True)
        return None if resp is None else resp.json()

    def list(self, path: str, *, page_size: int | None = None, max_pages: int = 1000) -> list[dict[str, Any]]:
        """Every item of a list endpoint, following ``cursor`` (bounded)."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(max_pages):
            params = [f"page_size={page_size}"] if page_size else []
            if cursor:
                params.append(f"cursor={quote(cursor)}")
            resp = self._call("GET", path + ("?" + "&".join(params) if params else ""))
            assert resp is not None
            data = resp.json() or {}
            items.extend(data.get("results") or [])
            cursor = data.get("cursor")
            if not cursor:
                return items
        raise NsxError(f"NSX list {path} did not end after {max_pages} pages")

    def patch(self, path: str, body: Mapping[str, Any]) -> None:
        self._call("PATCH", path, body=body)

    def put(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        resp = self._call("PUT", path, body=body)
        assert resp is not None
        return resp.json() or {}

    def delete(self, path: str) -> bool:
        """Delete; False when the object was already gone (404 counts as done)."""
        return self._call("DELETE", path, missing_ok=True) is not None

    def close(self) -> None:
        """End the session (best effort) and release the connection."""
        if self.auth == "session" and self._xsrf is not None:
            with contextlib.suppress(NsxError, _TransportError):
                self._exchange("POST", "/api/session/destroy", None, self._auth_headers())
            self._xsrf = None
            self._session_cookie = None
        self._drop_connection()

    # --- plumbing ---------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, body: Mapping[str, Any] | None = None, missing_ok: bool = False) -> Response | None:
        data = json.dumps(dict(body)).encode() if body is not None else None
        renewals = 0
        attempt = 0
        while True:
            if self.auth == "session" and self._xsrf is None:
                self._create_session()
            headers = {**self._auth_headers(), **({"Content-Type": "application/json"} if data is not None else {})}
            resp = self._send(method, API + path, data, headers)
            attempt += 1
            if self.auth == "session" and resp.status in (401, 403) and renewals < 2:
                code = _error_code(resp)
                if resp.status == 401 or code == XSRF_ERROR_CODE:
                    # The session expired or the XSRF token went stale: a new session, then the same call.
                    log.info("NSX %s %s: session expired (HTTP %s), creating a new session", method, path, resp.status)
                    self._xsrf = None
                    renewals += 1
                    continue
            if _retryable(resp):
                if attempt <= self.max_retries:
                    self._wait(attempt, f"{method} {path}: HTTP {resp.status}", resp)
                    continue
                raise self._busy(method, path, resp, attempt)
            if resp.status == 404 and missing_ok:
                return None
            if resp.status >= 300:
                raise self._error(method, path, resp)
            log.debug("NSX %s %s -> %s", method, path, resp.status)
            return resp

    def _send(self, method: str, target: str, data: bytes | None, headers: Mapping[str, str]) -> Response:
        """One HTTP exchange, retried (bounded) when no answer came: lost connections and deadlines."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._exchange(method, target, data, headers)
            except _TransportError as exc:
                if attempt > self.max_retries:
                    what = f"NSX {method} {target.removeprefix(API)}"
                    if exc.timed_out:
                        raise NsxTimeoutError(
                            f"{what}: no complete answer from {self.base} within timeoutSeconds={self.timeout:g} "
                            f"on any of {attempt} attempts (the last one had {exc.received} bytes when it was cut off)",
                            attempts=attempt,
                            received=exc.received,
                        ) from None
                    raise NsxUnavailableError(
                        f"{what}: no answer from {self.base} after {attempt} attempts ({exc})", attempts=attempt
                    ) from None
                self._wait(attempt, f"{method} {target.removeprefix(API)}: {exc}")

    def _exchange(self, method: str, target: str, data: bytes | None, headers: Mapping[str, str]) -> Response:
        """Send one request and read its whole answer before the deadline (``timeout`` seconds from now)."""
        conn = self._connection
        reused = conn is not None and conn.sock is not None
        if conn is None:
            conn = self._connection = _Connection(self.host, self.port, self._context, self._clock)
        conn.deadline = self._clock() + self.timeout
        conn.received[0] = 0
        all_headers = {"Accept": "application/json", **headers}
        if self._session_cookie:
            all_headers["Cookie"] = f"JSESSIONID={self._session_cookie}"
        try:
            try:
                conn.request(method, target, body=data, headers=all_headers)
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused:
                    raise
                # A kept-alive connection the server had closed meanwhile: once more on a new one.
                conn.close()
                conn.deadline = self._clock() + self.timeout
                conn.request(method, target, body=data, headers=all_headers)
                resp = conn.getresponse()
            body = resp.read()
        except ssl.SSLCertVerificationError as exc:
            self._drop_connection()
            raise self._tls_error(exc) from None
        except ssl.SSLError as exc:
            self._drop_connection()
            raise NsxTlsError(f"TLS with {self.base} failed: {exc.reason or exc}", "other") from None
        except TimeoutError as exc:  # our deadline, or a socket operation that used up the time left
            received = conn.received[0]
            self._drop_connection()
            raise _TransportError(f"{type(exc).__name__}, {received} bytes received", timed_out=True, received=received) from None
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection()
            raise _TransportError(type(exc).__name__, timed_out=False) from None
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            if name.strip() == "JSESSIONID":
                self._session_cookie = rest.split(";", 1)[0].strip()
        if resp.will_close:
            self._drop_connection()
        return Response(resp.status, resp.reason, resp.headers, body)

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _wait(self, attempt: int, why: str, resp: Response | None = None) -> None:
        delay = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        delay = self._rng.uniform(delay / 2, delay)  # jitter: parallel writers do not retry in step
        retry_after = resp.headers.get("Retry-After") if resp is not None else None
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), self.max_backoff))
        log.warning("NSX %s; retrying in %.2fs (attempt %d of %d)", why, delay, attempt, self.max_retries)
        self._sleep(delay)

    def _create_session(self) -> None:
        form = urlencode({"j_username": self.username, "j_password": self._password}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        self._session_cookie = None
        attempt = 0
        while True:
            attempt += 1
            resp = self._send("POST", "/api/session/create", form, headers)
            if not _retryable(resp):
                break
            if attempt > self.max_retries:
                # Busy or down (503 while NSX Manager starts or its cluster is degraded): not a credentials problem.
                raise self._busy("POST", "/api/session/create", resp, attempt)
            self._wait(attempt, f"session create: HTTP {resp.status}", resp)
        token = resp.headers.get("X-XSRF-TOKEN")
        if resp.status in (401, 403):
            err = self._error("POST", "/api/session/create", resp)
            raise NsxAuthError(
                "POST",
                "/api/session/create",
                resp.status,
                err.error_code,
                f"NSX refused the credentials of user {self.username!r}: {err.error_message} "
                "(check nsx.username and the nsxPassword secret)",
            )
        if resp.status >= 300:
            raise self._error("POST", "/api/session/create", resp)
        if not token:
            raise NsxError(
                f"{self.base} answered POST /api/session/create with HTTP {resp.status} but no X-XSRF-TOKEN: "
                "is nsx.host an NSX Manager? (or set nsx.auth: basic)"
            )
        self._xsrf = token
        log.debug("NSX session created for %s", self.username)

    def _auth_headers(self) -> dict[str, str]:
        if self._basic is not None:
            return {"Authorization": self._basic}
        return {"X-XSRF-TOKEN": self._xsrf} if self._xsrf else {}

    def _parse_error(self, resp: Response) -> tuple[int | None, str, str]:
        data: dict[str, Any] = {}
        with contextlib.suppress(ValueError):
            parsed = resp.json()
            if isinstance(parsed, dict):
                data = parsed
        code = data.get("error_code")
        message = str(data.get("error_message") or resp.reason or "no message")
        details = str(data.get("details") or "")
        related = [str(e.get("error_message")) for e in data.get("related_errors") or [] if isinstance(e, dict) and e.get("error_message")]
        if related:
            details = "; ".join([d for d in (details, *related) if d])
        return (code if isinstance(code, int) else None), self._redact(message), self._redact(details)

    def _error(self, method: str, path: str, resp: Response) -> NsxApiError:
        code, message, details = self._parse_error(resp)
        cls = NsxAuthError if resp.status in (401, 403) and code != XSRF_ERROR_CODE else NsxApiError
        return cls(method, path, resp.status, code, message, details)

    def _busy(self, method: str, path: str, resp: Response, attempts: int) -> NsxUnavailableError:
        code, message, _ = self._parse_error(resp)
        what = f"HTTP {resp.status}" + (f", error_code {code}" if code is not None else "")
        return NsxUnavailableError(
            f"NSX Manager at {self.base} is unavailable: {method} {path} answered {what} ({message}) on all {attempts} attempts; "
            "retry later, or raise nsx.maxRetries",
            status=resp.status,
            attempts=attempts,
        )

    def _tls_error(self, exc: ssl.SSLCertVerificationError) -> NsxTlsError:
        code = getattr(exc, "verify_code", None)
        detail = getattr(exc, "verify_message", None) or str(exc)
        if code in _NAME_MISMATCH:
            return NsxTlsError(
                f"the TLS certificate of {self.base} is not valid for the name {self.host!r} ({detail}): set nsx.host to a name "
                "the certificate holds, or reissue NSX Manager's certificate with this name",
                "name-mismatch",
            )
        if code == _CERT_EXPIRED:
            return NsxTlsError(f"the TLS certificate of {self.base} has expired ({detail}): renew NSX Manager's certificate", "expired")
        if code in _UNKNOWN_ISSUER:
            if self._ca_given:
                return NsxTlsError(
                    f"the TLS certificate of {self.base} is not signed by the CA in nsx.caBundle ({detail}): "
                    "give the CA that signed NSX Manager's certificate",
                    "unknown-ca",
                )
            return NsxTlsError(
                f"the TLS certificate of {self.base} is signed by a CA this machine does not trust ({detail}): "
                "give the NSX Manager's CA as nsx.caBundle",
                "unknown-ca",
            )
        hint = "" if self._ca_given else " (to trust a private CA, give it as nsx.caBundle)"
        return NsxTlsError(f"TLS verification of {self.base} failed: {detail}{hint}", "other")

    def _redact(self, text: str) -> str:
        for s in (self._password, self._xsrf, self._session_cookie):
            if s and len(s) >= 3:
                text = text.replace(s, REDACTED)
        return text


def _ca_context(ca_bundle: str) -> ssl.SSLContext:
    """A verifying TLS context that trusts only ``ca_bundle``: PEM text, or the path of a PEM file."""
    if "-----BEGIN" in ca_bundle:
        try:
            return ssl.create_default_context(cadata=ca_bundle)
        except ssl.SSLError as exc:
            raise NsxError(f"nsx.caBundle holds no usable PEM certificate ({exc.reason or exc})") from None
    if not os.path.exists(ca_bundle):
        raise NsxError(f"nsx.caBundle: no such file {ca_bundle!r} (give a path to a PEM file, or the PEM text)")
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except ssl.SSLError as exc:
        raise NsxError(f"nsx.caBundle: {ca_bundle!r} holds no usable PEM certificate ({exc.reason or exc})") from None


def _error_code(resp: Response) -> int | None:
    with contextlib.suppress(ValueError):
        data = resp.json()
        if isinstance(data, dict) and isinstance(data.get("error_code"), int):
            return data["error_code"]
    return None


def _retryable(resp: Response) -> bool:
    if resp.status in RETRY_STATUS:
        return True
    return resp.status == 500 and (500, _error_code(resp)) in RETRY_ERROR_CODES
