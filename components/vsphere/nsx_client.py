"""A small client of the NSX Policy REST API: the only module of this project that does HTTP.

What it does for its callers (the dynamic provider, the tests):
- authentication: a session (``POST /api/session/create``, JSESSIONID cookie + X-XSRF-TOKEN header, renewed on
  403 error 98) or HTTP basic auth on every call;
- TLS verified by default, against a CA bundle when one is given; ``insecure`` only by explicit opt-in;
- a timeout on every call; bounded retries with jittered exponential backoff on 429, 503, 504, 500/607 and
  connection errors (every call this client makes is idempotent: GET, PATCH of a whole object, PUT with a
  ``_revision``, DELETE);
- NSX's refusals raised as ``NsxApiError`` with NSX's own ``error_code`` and ``error_message``.

The password, the session cookie and the XSRF token never appear in a log line, an exception or ``repr``:
every text this module builds from a server answer passes through ``_redact``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import requests
# `requests` is imported where a client is built or used, not with this module: a plan (which registers the NSX
# objects but never calls NSX) does not pay its import (25 ms, half of the vSphere backend's own import time).

log = logging.getLogger(__name__)

API = "/policy/api/v1"
RETRY_STATUS = (429, 503, 504)
RETRY_ERROR_CODES = {(500, 607)}  # transaction aborted: retry (vmware-nsxlib does)
XSRF_ERROR_CODE = 98  # 403 with error_code 98: bad or expired XSRF token / session: create a new session
REDACTED = "[redacted]"


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
    """The credentials were refused (403 error 403) or no session could be created."""


class NsxUnavailableError(NsxError):
    """NSX could not be reached, or stayed busy, after every retry."""


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
    ) -> None:
        if auth not in ("session", "basic"):
            raise ValueError(f"auth must be session or basic, not {auth!r}")
        if not password:
            raise NsxError("no NSX password: set it with `pulumi config set --secret nsxPassword` (or pass nsxPassword to the component)")
        host_part = f"[{host}]" if ":" in host and not host.startswith("[") else host
        self.base = f"{scheme}://{host_part}:{port}"
        self.username = username
        self.auth = auth
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._password = password
        self._xsrf: str | None = None
        self._ca_file: str | None = None
        import requests

        self._http = requests.Session()
        self._http.headers.update({"Accept": "application/json"})
        # Passed on every call: a session-level `verify` loses to REQUESTS_CA_BUNDLE in the environment.
        self._verify: bool | str = True
        if insecure:
            self._verify = False
            log.warning("NSX %s: TLS certificate verification is OFF (nsx.insecure: true)", self.base)
        elif ca_bundle:
            self._verify = self._ca_path(ca_bundle)
        if auth == "basic":
            self._http.auth = (username, password)

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
            data = resp.json()
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
        return resp.json() if resp.content else {}

    def delete(self, path: str) -> bool:
        """Delete; False when the object was already gone (404 counts as done)."""
        return self._call("DELETE", path, missing_ok=True) is not None

    def close(self) -> None:
        """End the session (best effort) and release the connection pool."""
        import requests

        if self.auth == "session" and self._xsrf is not None:
            with contextlib.suppress(requests.RequestException):
                self._http.post(f"{self.base}/api/session/destroy", headers=self._auth_headers(), timeout=self.timeout, verify=self._verify)
            self._xsrf = None
        self._http.close()
        if self._ca_file:
            with contextlib.suppress(OSError):
                os.unlink(self._ca_file)
            self._ca_file = None

    # --- plumbing ---------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, body: Mapping[str, Any] | None = None, missing_ok: bool = False) -> requests.Response | None:
        url = f"{self.base}{API}{path}"
        renewals = 0
        attempt = 0
        while True:
            if self.auth == "session" and self._xsrf is None:
                self._create_session()
            resp = self._send(method, url, path, json=dict(body) if body is not None else None, headers=self._auth_headers())
            attempt += 1
            if self.auth == "session" and resp.status_code in (401, 403) and renewals < 2:
                code = _error_code(resp)
                if resp.status_code == 401 or code == XSRF_ERROR_CODE:
                    # The session expired or the XSRF token went stale: a new session, then the same call.
                    log.info("NSX %s %s: session expired (HTTP %s), creating a new session", method, path, resp.status_code)
                    self._xsrf = None
                    renewals += 1
                    continue
            if _retryable(resp) and attempt <= self.max_retries:
                self._wait(attempt, f"{method} {path}: HTTP {resp.status_code}", resp)
                continue
            if resp.status_code == 404 and missing_ok:
                return None
            if resp.status_code >= 300:
                raise self._error(method, path, resp)
            log.debug("NSX %s %s -> %s", method, path, resp.status_code)
            return resp

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        """One HTTP exchange, retried (bounded) on connection errors and timeouts only."""
        import requests

        attempt = 0
        while True:
            attempt += 1
            try:
                return self._http.request(method, url, timeout=self.timeout, verify=self._verify, **kwargs)
            except requests.exceptions.SSLError as exc:
                raise NsxError(
                    f"TLS verification of {self.base} failed ({type(exc).__name__}): give the NSX Manager's CA as nsx.caBundle"
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt > self.max_retries:
                    raise NsxUnavailableError(
                        f"NSX {method} {what}: no answer from {self.base} after {attempt} attempts ({type(exc).__name__})"
                    ) from None
                self._wait(attempt, f"{method} {what}: {type(exc).__name__}")

    def _wait(self, attempt: int, why: str, resp: requests.Response | None = None) -> None:
        delay = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        delay = self._rng.uniform(delay / 2, delay)  # jitter: parallel writers do not retry in step
        retry_after = resp.headers.get("Retry-After") if resp is not None else None
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), self.max_backoff))
        log.warning("NSX %s; retrying in %.2fs (attempt %d of %d)", why, delay, attempt, self.max_retries)
        self._sleep(delay)

    def _create_session(self) -> None:
        url = f"{self.base}/api/session/create"
        form = {"j_username": self.username, "j_password": self._password}
        attempt = 0
        while True:
            attempt += 1
            resp = self._send("POST", url, "/api/session/create", data=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
            if _retryable(resp) and attempt <= self.max_retries:
                self._wait(attempt, f"session create: HTTP {resp.status_code}", resp)
                continue
            break
        token = resp.headers.get("X-XSRF-TOKEN")
        if resp.status_code >= 300 or not token:
            err = self._error("POST", "/api/session/create", resp)
            raise NsxAuthError(
                "POST",
                "/api/session/create",
                resp.status_code,
                err.error_code,
                f"NSX did not open a session for user {self.username!r}: {err.error_message}"
                + ("" if token or resp.status_code >= 300 else " (no X-XSRF-TOKEN in the answer)"),
            )
        self._xsrf = token
        log.debug("NSX session created for %s", self.username)

    def _auth_headers(self) -> dict[str, str]:
        return {"X-XSRF-TOKEN": self._xsrf} if self.auth == "session" and self._xsrf else {}

    def _error(self, method: str, path: str, resp: requests.Response) -> NsxApiError:
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
        cls = NsxAuthError if resp.status_code in (401, 403) and code != XSRF_ERROR_CODE else NsxApiError
        return cls(method, path, resp.status_code, code if isinstance(code, int) else None, self._redact(message), self._redact(details))

    def _redact(self, text: str) -> str:
        secrets = [self._password, self._xsrf, self._http.cookies.get("JSESSIONID")]
        for s in secrets:
            if s and len(s) >= 3:
                text = text.replace(s, REDACTED)
        return text

    def _ca_path(self, ca_bundle: str) -> str:
        if "-----BEGIN" not in ca_bundle:
            if not os.path.exists(ca_bundle):
                raise NsxError(f"nsx.caBundle: no such file {ca_bundle!r} (give a path to a PEM file, or the PEM text)")
            return ca_bundle
        fd, name = tempfile.mkstemp(prefix="eksa-nsx-ca-", suffix=".pem")
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(ca_bundle)
        self._ca_file = name
        return name


def _error_code(resp: requests.Response) -> int | None:
    with contextlib.suppress(ValueError):
        data = resp.json()
        if isinstance(data, dict) and isinstance(data.get("error_code"), int):
            return data["error_code"]
    return None


def _retryable(resp: requests.Response) -> bool:
    if resp.status_code in RETRY_STATUS:
        return True
    return resp.status_code == 500 and (500, _error_code(resp)) in RETRY_ERROR_CODES
