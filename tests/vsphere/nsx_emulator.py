"""An NSX Policy API emulator for tests: real HTTP on 127.0.0.1, strict about the contract our client relies on.

Contract (shared reference nsx-policy-api.md): paths under /policy/api/v1 for groups, services, security
policies and their rules; GET 200/404, paged lists; PATCH create-or-update (``_revision`` checked only when
sent; a policy PATCH keeps rules left out, a service PATCH keeps entries left out); PUT full replace with the
current ``_revision`` (412 when missing or stale); DELETE 200, 404 when missing, 400/500030 while a rule or a
policy scope still refers to a group or service; field types, enums and limits (15 port entries with a range
counting 2, 128 items per rule list, 25,000 IP items, 5 conditions, "ANY" alone); the refusal of a rule whose
source, destination and scope are all ANY; basic auth and sessions (``POST /api/session/create``, JSESSIONID
cookie and X-XSRF-TOKEN header; 403/98 on a bad token or an expired session; 403/403 on bad credentials).

Where the reference leaves a detail open, the emulator picks one and says so: references to missing groups
or services are refused with 400/500012; the all-ANY rule with 400/``ALL_ANY_ERROR``.

Fault injection, with a seeded RNG at a configurable rate: 429 and 503 (with Retry-After: 0), 500/607,
dropped connections (before or after the change is applied: a lost answer), slow answers, and dripped answers
(``drip``: the change is applied, then the answer is sent one byte every ``drip_seconds``, padded to
``drip_bytes``: a server that keeps a connection alive without ever finishing). ``drop_after_for`` makes the
answer of every matching write get lost (the change applied), ``drop_before_for`` drops matching requests
unapplied: for lost-create tests.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import random
import secrets
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .nsx_schema import schema_errors


def self_signed_certificate(directory: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (and its key) in ``directory``, for the emulator's TLS: (cert path, key path)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


API = "/policy/api/v1"
ALL_ANY_ERROR = 520001  # emulator's choice: the reference gives no code for this refusal
INVALID_PATH_ERROR = 500012  # emulator's choice: reference to an object that does not exist
SERVER_FIELDS = ("_revision", "_create_time", "_last_modified_time", "_create_user", "_last_modified_user", "_system_owned", "path", "parent_path", "relative_path", "marked_for_delete")  # fmt: skip
CATEGORIES = ("Ethernet", "Emergency", "Infrastructure", "Environment", "Application")
SCHEMA_ERROR = 255  # emulator's choice: a body the vendor model (nsx_policy_schema.json) refuses
MIXED_FAMILIES_ERROR = 500095  # emulator's choice: IPv4 and IPv6 in one IPAddressExpression
RULE_TAG_KEPT = 32  # Rule.tag: "internally tag will get truncated after 32 characters" (vendor model)
_KIND_TYPES = {"groups": "Group", "services": "Service", "security-policies": "SecurityPolicy"}


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self) -> dict[str, Any]:
        names = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 412: "PRECONDITION_FAILED"}
        return {
            "httpStatus": names.get(self.status, str(self.status)),
            "error_code": self.code,
            "module_name": "policy",
            "error_message": self.message,
            "details": self.details,
            "related_errors": [],
        }


def bad(message: str, code: int = 500000) -> ApiError:
    return ApiError(400, code, message)


@dataclass
class Faults:
    rate: float = 0.0
    seed: int = 0
    kinds: tuple[str, ...] = ("429", "503", "607", "drop", "slow")
    slow_seconds: float = 0.05
    drip_seconds: float = 0.01
    drip_bytes: int = 2000
    counts: dict[str, int] = field(default_factory=dict)
    # (method, path prefix): every such request is applied and its answer lost (tests of lost creates) ...
    drop_after_for: tuple[tuple[str, str], ...] = ()
    # ... or its connection dropped before it is applied (NSX unreachable for it)
    drop_before_for: tuple[tuple[str, str], ...] = ()


class NsxEmulator:
    def __init__(
        self,
        *,
        username: str = "admin",
        password: str = "VMware1!VMware1!",
        faults: Faults | None = None,
        tls: tuple[str, str] | None = None,
        domains: tuple[str, ...] = ("default",),
    ) -> None:
        self.username, self.password = username, password
        self.faults = faults or Faults()
        self.rng = random.Random(self.faults.seed)
        self.domains = domains
        self.objects: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, str] = {}  # JSESSIONID -> XSRF token
        self.requests: list[tuple[str, str, int]] = []
        self.lock = threading.RLock()
        self.tls = tls
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._revision_clock = 0

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> str:
        emulator = self

        class Handler(_Handler):
            pass

        Handler.emulator = emulator
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> NsxEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- test helpers ------------------------------------------------------------------------------------

    def state(self) -> dict[str, dict[str, Any]]:
        """Every object by path, without server fields (rules embedded in their policy)."""
        with self.lock:
            return {p: strip(o) for p, o in self.objects.items()}

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    def put_object(self, path: str, body: Mapping[str, Any]) -> None:
        """Create an object directly (another tool's object, for conflict tests)."""
        with self.lock:
            self._write(path, dict(body), replace=True)

    def set_faults(self, faults: Faults) -> None:
        """New faults, and the RNG reseeded with their seed (runs with the same seed see the same faults)."""
        with self.lock:
            self.faults = faults
            self.rng = random.Random(faults.seed)

    @contextmanager
    def fault_rate(self, rate: float) -> Iterator[None]:
        old = self.faults.rate
        self.faults.rate = rate
        try:
            yield
        finally:
            self.faults.rate = old

    # --- request handling ----------------------------------------------------------------------------------

    def pick_fault(self, method: str = "", path: str = "") -> str | None:
        with self.lock:
            for kind, rules in (("drop-after", self.faults.drop_after_for), ("drop-before", self.faults.drop_before_for)):
                if any(method == m and path.startswith(API + p) for m, p in rules):
                    self.faults.counts[kind] = self.faults.counts.get(kind, 0) + 1
                    return kind
            if self.faults.rate <= 0 or self.rng.random() >= self.faults.rate:
                return None
            kind = self.rng.choice(self.faults.kinds)
            if kind == "drop":
                kind = self.rng.choice(("drop-before", "drop-after"))
            self.faults.counts[kind] = self.faults.counts.get(kind, 0) + 1
            return kind

    def authenticate(self, headers: Mapping[str, str]) -> None:
        auth = headers.get("Authorization")
        if auth:
            scheme, _, value = auth.partition(" ")
            user, _, password = base64.b64decode(value).decode().partition(":") if scheme == "Basic" else ("", "", "")
            if not secrets.compare_digest(f"{user}:{password}", f"{self.username}:{self.password}"):
                raise ApiError(403, 403, "The credentials were incorrect or the account specified has been locked.")
            return
        cookie = _cookie(headers.get("Cookie", ""), "JSESSIONID")
        if cookie is None:
            raise ApiError(401, 401, "Authentication required: use basic auth or a session.")
        with self.lock:
            token = self.sessions.get(cookie)
        if token is None or headers.get("X-XSRF-TOKEN") != token:
            raise ApiError(403, 98, "Bad XSRF token")

    def create_session(self, form: Mapping[str, list[str]]) -> tuple[str, str]:
        user, password = (form.get("j_username") or [""])[0], (form.get("j_password") or [""])[0]
        if not secrets.compare_digest(f"{user}:{password}", f"{self.username}:{self.password}"):
            raise ApiError(403, 403, "The credentials were incorrect or the account specified has been locked.")
        sid, token = secrets.token_hex(16), secrets.token_hex(16)
        with self.lock:
            self.sessions[sid] = token
        return sid, token

    def handle(self, method: str, path: str, query: Mapping[str, list[str]], body: Any) -> tuple[int, Any]:
        kind, domain, oid, rule = _route(path)
        if domain is not None and domain not in self.domains:
            raise ApiError(404, 202, f"Domain {domain} not found")
        with self.lock:
            if oid is None:  # a list
                if method != "GET":
                    raise ApiError(405, 0, f"{method} not allowed on a list")
                return 200, self._list(path, query)
            if rule is not None:
                return self._rule(method, path, body)
            if method == "GET":
                if path not in self.objects:
                    raise ApiError(404, 202, f"{kind} {oid} not found")
                return 200, copy.deepcopy(self.objects[path])
            if method == "DELETE":
                if path not in self.objects:
                    raise ApiError(404, 202, f"{kind} {oid} not found")
                self._check_unreferenced(path)
                del self.objects[path]
                return 200, None
            if not isinstance(body, dict):
                raise bad("request body must be a JSON object")
            if body.get("id") not in (None, oid):
                raise bad(f"id {body.get('id')!r} in the body does not match the path id {oid!r}")
            current = self.objects.get(path)
            revision = body.get("_revision")
            if method == "PUT":
                if current is not None and revision != current["_revision"]:
                    raise ApiError(
                        412, 244, f"The object was modified by somebody else (revision {revision} is not {current['_revision']})"
                    )
                if current is None and revision is not None:
                    raise ApiError(412, 244, f"{kind} {oid} does not exist: revision {revision} cannot match")
                self._write(path, body, replace=True)
                return 200, copy.deepcopy(self.objects[path])
            if method == "PATCH":
                if current is not None and revision is not None and revision != current["_revision"]:
                    raise ApiError(412, 244, "The object was modified by somebody else")
                self._write(path, body, replace=False)
                return 200, None
            raise ApiError(405, 0, f"{method} not allowed")

    # --- objects -------------------------------------------------------------------------------------------

    def _list(self, path: str, query: Mapping[str, list[str]]) -> dict[str, Any]:
        prefix = path.rstrip("/") + "/"
        items = [copy.deepcopy(o) for p, o in sorted(self.objects.items()) if p.startswith(prefix) and "/" not in p[len(prefix) :]]
        size = int((query.get("page_size") or ["1000"])[0])
        start = int((query.get("cursor") or ["0"])[0])
        page = items[start : start + size]
        out: dict[str, Any] = {"results": page, "result_count": len(items)}
        if start + size < len(items):
            out["cursor"] = str(start + size)
        return out

    def _rule(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        policy_path, _, rid = path.rpartition("/rules/")
        policy = self.objects.get(policy_path)
        if policy is None:
            raise ApiError(404, 202, "Security policy not found")
        rules = policy.get("rules", [])
        found = next((r for r in rules if r["id"] == rid), None)
        if method == "GET":
            if found is None:
                raise ApiError(404, 202, f"Rule {rid} not found")
            return 200, copy.deepcopy(found)
        if method == "DELETE":
            if found is None:
                raise ApiError(404, 202, f"Rule {rid} not found")
            new = {**policy, "rules": [r for r in rules if r["id"] != rid]}
            self._write(policy_path, new, replace=True)
            return 200, None
        raise ApiError(405, 0, "only GET and DELETE on rules in this emulator")

    def _write(self, path: str, body: dict[str, Any], *, replace: bool) -> None:
        kind, domain, oid, _ = _route(path)
        current = self.objects.get(path)
        new = {k: copy.deepcopy(v) for k, v in body.items() if k not in SERVER_FIELDS}
        if current is not None and not replace:
            merged = {k: v for k, v in current.items() if k not in SERVER_FIELDS}
            merged.update(new)
            # PATCH does not remove rules (policy) or entries (service) left out: it merges them by id.
            for child in ("rules", "service_entries"):
                if child in new and child in current:
                    by_id = {c["id"]: c for c in current[child]}
                    by_id.update({c.get("id"): c for c in new[child]})
                    merged[child] = list(by_id.values())
            new = merged
        validate(kind, new, self.objects, domain)
        self._revision_clock += 1
        now = int(time.time() * 1000)
        new["id"] = oid
        new.setdefault("display_name", oid)
        new["resource_type"] = {"groups": "Group", "services": "Service", "security-policies": "SecurityPolicy"}[kind]
        new["path"] = path
        new["relative_path"] = oid
        new["_revision"] = 0 if current is None else current["_revision"] + 1
        new["_create_time"] = current["_create_time"] if current else now
        new["_last_modified_time"] = now
        new["_create_user"] = self.username
        new["_system_owned"] = False
        new["marked_for_delete"] = False
        if kind == "security-policies":
            new.setdefault("scope", ["ANY"])
            new.setdefault("stateful", True)
            for r in new.get("rules", []):
                r.setdefault("resource_type", "Rule")
                r.setdefault("display_name", r["id"])
                r.setdefault("direction", "IN_OUT")
                r.setdefault("ip_protocol", "IPV4_IPV6")
                r.setdefault("logged", False)
                r.setdefault("disabled", False)
                r.setdefault("scope", ["ANY"])
                r["path"] = f"{path}/rules/{r['id']}"
            new["rules"] = sorted(new.get("rules", []), key=lambda r: (r.get("sequence_number", 0), r["id"]))
        self.objects[path] = new

    def _check_unreferenced(self, path: str) -> None:
        for other_path, obj in self.objects.items():
            if other_path == path:
                continue
            refs = set(obj.get("scope") or [])
            for r in obj.get("rules") or []:
                for k in ("source_groups", "destination_groups", "services", "scope"):
                    refs.update(r.get(k) or [])
            if path in refs:
                raise ApiError(
                    400,
                    500030,
                    f"The object path=[{path}] cannot be deleted as either it has children or it is being referenced by other objects path=[{other_path}]",
                )


class _Handler(BaseHTTPRequestHandler):
    emulator: NsxEmulator
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Answers are written in two pieces (headers, body): without this, Nagle and delayed ACKs add ~40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        em = self.emulator
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        fault = em.pick_fault(method, url.path)
        if fault in ("429", "503"):
            return self._send(int(fault), ApiError(int(fault), int(fault), "Server busy, retry later").body(), {"Retry-After": "0"})
        if fault == "607":
            return self._send(500, ApiError(500, 607, "The transaction was aborted, retry").body())
        if fault == "drop-before":
            self.close_connection = True
            return None
        status, payload, headers = self._dispatch(method, url.path, parse_qs(url.query), raw)
        if fault == "drop-after":  # the change is applied, the answer is lost
            self.close_connection = True
            return None
        if fault == "slow":
            time.sleep(em.faults.slow_seconds)
        if fault == "drip":
            return self._drip(status, payload, headers)
        self._send(status, payload, headers)
        return None

    def _drip(self, status: int, payload: Any, headers: Mapping[str, str]) -> None:
        """The whole answer, one byte at a time (bounded: ``drip_bytes`` bytes), until the client hangs up."""
        em = self.emulator
        data = b"" if payload is None else json.dumps(payload).encode()
        data = data.ljust(em.faults.drip_bytes, b" ")  # JSON may end with white space
        head = [
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
            "Content-Type: application/json",
            f"Content-Length: {len(data)}",
        ]
        head += [f"{k}: {v}" for k, v in headers.items()]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        self.close_connection = True
        for i in range(len(raw)):
            try:
                self.wfile.write(raw[i : i + 1])
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, OSError):
                return
            time.sleep(em.faults.drip_seconds)

    def _dispatch(self, method: str, path: str, query: Mapping[str, list[str]], raw: bytes) -> tuple[int, Any, dict[str, str]]:
        em = self.emulator
        try:
            if path == "/api/session/create" and method == "POST":
                sid, token = em.create_session(parse_qs(raw.decode()))
                return (
                    200,
                    None,
                    {"X-XSRF-TOKEN": token, "Set-Cookie": f"JSESSIONID={sid}; Path=/; HttpOnly" + ("; Secure" if em.tls else "")},
                )
            if path == "/api/session/destroy" and method == "POST":
                cookie = _cookie(self.headers.get("Cookie", ""), "JSESSIONID")
                with em.lock:
                    em.sessions.pop(cookie or "", None)
                return 200, None, {}
            if not path.startswith(API + "/infra/"):
                raise ApiError(404, 202, f"No API at {path}")
            em.authenticate(self.headers)  # type: ignore[arg-type]
            body = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise bad(f"malformed JSON: {exc}") from None
            status, payload = em.handle(method, path[len(API) :], query, body)
            em.requests.append((method, path[len(API) :], status))
            return status, payload, {}
        except ApiError as exc:
            em.requests.append((method, path.removeprefix(API), exc.status))
            return exc.status, exc.body(), {}

    def _send(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): nothing to do
            self.close_connection = True


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


def _route(path: str) -> tuple[str, str | None, str | None, str | None]:
    """-> (kind, domain, object id or None for a list, rule id or None)."""
    parts = path.strip("/").split("/")
    if parts[:1] != ["infra"]:
        raise ApiError(404, 202, f"No API at {path}")
    if parts[1:2] == ["services"] and len(parts) in (2, 3):
        return "services", None, parts[2] if len(parts) == 3 else None, None
    if parts[1:2] == ["domains"] and len(parts) >= 4 and parts[3] in ("groups", "security-policies"):
        domain, kind = parts[2], parts[3]
        if len(parts) == 4:
            return kind, domain, None, None
        if len(parts) == 5:
            return kind, domain, parts[4], None
        if kind == "security-policies" and len(parts) == 7 and parts[5] == "rules":
            return kind, domain, parts[4], parts[6]
    raise ApiError(404, 202, f"No API at {path}")


def strip(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k not in SERVER_FIELDS}
    if "rules" in out:
        out["rules"] = [{k: v for k, v in r.items() if k not in SERVER_FIELDS} for r in out["rules"]]
    return out


# --- validation -------------------------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _str_list(obj: Mapping[str, Any], key: str, *, required: bool = False, max_items: int = 128) -> list[str]:
    v = obj.get(key)
    if v is None:
        if required:
            raise bad(f"Field {key} is required")
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise bad(f"Field {key} must be a list of strings")
    if len(v) > max_items:
        raise bad(f"Field {key} has {len(v)} items; at most {max_items} are allowed", 500104)
    return v


def _enum(obj: Mapping[str, Any], key: str, allowed: tuple[str, ...], *, required: bool = False) -> None:
    v = obj.get(key)
    if v is None and not required:
        return
    if v not in allowed:
        raise bad(f"Field {key}: {v!r} is not one of {', '.join(allowed)}")


def _address_item(text: str) -> None:
    try:
        if "-" in text:
            lo, hi = (ipaddress.ip_address(x.strip()) for x in text.split("-", 1))
            if lo.version != hi.version or lo > hi:  # type: ignore[operator]
                raise ValueError(text)
        else:
            ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise bad(f"Invalid IP address, range or CIDR {text!r}", 500095) from None


def _ports(entry: Mapping[str, Any], key: str) -> None:
    ports = _str_list(entry, key, max_items=1000)
    weight = 0
    for p in ports:
        lo, sep, hi = p.partition("-")
        if not (lo.isdigit() and (not sep or hi.isdigit())) or not 1 <= int(lo) <= int(hi or lo) <= 65535:
            raise bad(f"Invalid port {p!r} in {key}")
        weight += 2 if sep else 1
    if weight > 15:
        raise bad(f"{key} holds {weight} port entries (a range counts as 2); at most 15 are allowed", 500080)


def validate(kind: str, obj: dict[str, Any], objects: Mapping[str, Any], domain: str | None) -> None:
    if "display_name" in obj and (not isinstance(obj["display_name"], str) or len(obj["display_name"]) > 255):
        raise bad("display_name must be a string of at most 255 characters")
    for t in obj.get("tags") or []:
        if not isinstance(t, dict) or len(t.get("scope") or "") > 128 or len(t.get("tag") or "") > 256:
            raise bad("tags must be {scope, tag} with scope <= 128 and tag <= 256 characters")
    if kind == "groups":
        _group(obj)
    elif kind == "services":
        _service(obj)
    else:
        _policy(obj, objects)
    # Last, the vendor model itself: the emulator refuses whatever nsx_policy_schema.json refuses.
    problems = schema_errors(_KIND_TYPES[kind], strip(obj))
    if problems:
        raise ApiError(400, SCHEMA_ERROR, f"{_KIND_TYPES[kind]} {obj.get('id', '')}: " + "; ".join(problems))


def _group(obj: Mapping[str, Any]) -> None:
    if obj.get("resource_type", "Group") != "Group":
        raise bad("resource_type must be Group")
    expression = obj.get("expression") or []  # optional (vendor model: Group.Expression)
    if not isinstance(expression, list):
        raise bad("expression must be a list")
    conditions = 0
    for i, e in enumerate(expression):
        kind = e.get("resource_type") if isinstance(e, dict) else None
        if i % 2 == 1:
            if kind != "ConjunctionOperator":
                raise bad(f"expression[{i}] must be a ConjunctionOperator (expressions and operators alternate)")
            _enum(e, "conjunction_operator", ("AND", "OR"), required=True)
            continue
        if kind == "ConjunctionOperator":
            raise bad(f"expression[{i}] must be an expression, not an operator")
        if kind == "IPAddressExpression":
            ips = _str_list(e, "ip_addresses", required=True, max_items=25_000)
            if not ips:
                raise bad("IPAddressExpression needs 1 to 25,000 items")
            for ip in ips:
                _address_item(ip)
            if len({_version(ip) for ip in ips}) > 1:
                raise bad("Both IPv4 and IPv6 addresses within one IPAddressExpression is not allowed", MIXED_FAMILIES_ERROR)
        elif kind == "Condition":
            _condition(e)
            conditions += 1
        elif kind == "NestedExpression":
            inner = e.get("expressions") or []
            members = set()
            for j, x in enumerate(inner):
                if j % 2 == 1:
                    if x.get("resource_type") != "ConjunctionOperator" or x.get("conjunction_operator") != "AND":
                        raise bad("a NestedExpression joins its conditions with AND")
                    continue
                if x.get("resource_type") != "Condition":
                    raise bad("a NestedExpression holds only Conditions")
                _condition(x)
                members.add(x.get("member_type"))
                conditions += 1
            if len(members) > 1:
                raise bad("the Conditions of a NestedExpression must have the same member_type")
        elif kind == "PathExpression":
            _str_list(e, "paths", required=True, max_items=500)
        else:
            raise bad(f"expression[{i}]: unknown resource_type {kind!r}")
    if expression and len(expression) % 2 == 0:
        raise bad("expression must not end with a ConjunctionOperator")
    if conditions > 5:
        raise bad(f"a group holds at most 5 Conditions, got {conditions}", 500125)


def _condition(e: Mapping[str, Any]) -> None:
    """Field types and enums are the vendor model's (checked by schema_errors); every field is optional there, and
    an empty value is allowed ("If value for Condition is empty, then condition will not be evaluated")."""


def _version(text: str) -> int:
    return ipaddress.ip_address(text.split("-", 1)[0].split("/", 1)[0].strip()).version


def _service(obj: Mapping[str, Any]) -> None:
    if obj.get("resource_type", "Service") != "Service":
        raise bad("resource_type must be Service")
    entries = obj.get("service_entries")
    if not isinstance(entries, list) or not entries:
        raise bad("Field service_entries is required (at least one entry)")
    ids = set()
    for e in entries:
        if not isinstance(e, dict):
            raise bad("every service entry must be an object")
        e.setdefault("id", f"{e.get('resource_type')}-{len(ids)}")  # optional in the vendor model: NSX names it
        if e["id"] in ids:
            raise bad(f"duplicate service entry id {e['id']}")
        ids.add(e["id"])
        kind = e.get("resource_type")
        if kind == "L4PortSetServiceEntry":
            _ports(e, "destination_ports")
            _ports(e, "source_ports")
        elif kind == "ICMPTypeServiceEntry":
            for k in ("icmp_type", "icmp_code"):
                if e.get(k) is not None and (not _is_int(e[k]) or not 0 <= e[k] <= 255):
                    raise bad(f"{k} must be an integer 0-255")
        else:
            raise bad(f"unsupported service entry type {kind!r}")


def _references(items: list[str], objects: Mapping[str, Any], what: str, *, kind: str, raw_ok: bool) -> None:
    if any(i.upper() == "ANY" for i in items) and len(items) > 1:
        raise bad(f"{what}: ANY must stand alone")
    for item in items:
        if item == "ANY":
            continue
        if item.startswith("/"):
            if item not in objects or f"/{kind}/" not in item:
                raise bad(f"{what}: invalid path {item} (no such {kind})", INVALID_PATH_ERROR)
        elif raw_ok:
            _address_item(item)
        else:
            raise bad(f"{what}: {item!r} is not a path")


def _policy(obj: Mapping[str, Any], objects: Mapping[str, Any]) -> None:
    if obj.get("resource_type", "SecurityPolicy") != "SecurityPolicy":
        raise bad("resource_type must be SecurityPolicy")
    _enum(obj, "category", CATEGORIES)
    seq = obj.get("sequence_number")
    if seq is not None and (not _is_int(seq) or not 0 <= seq <= 999_999):
        raise bad("sequence_number must be an integer 0-999,999")
    for k in ("stateful", "tcp_strict"):
        if k in obj and not isinstance(obj[k], bool):
            raise bad(f"{k} must be true or false")
    policy_scope = _str_list(obj, "scope")
    _references(policy_scope, objects, "scope", kind="groups", raw_ok=False)
    rules = obj.get("rules") or []
    if not isinstance(rules, list):
        raise bad("rules must be a list")
    ids: set[str] = set()
    for r in rules:
        rid = r.get("id") if isinstance(r, dict) else None
        if not isinstance(rid, str) or not rid:
            raise bad("every rule needs an id")
        if rid in ids:
            raise bad(f"duplicate rule id {rid}")
        ids.add(rid)
        if r.get("resource_type", "Rule") != "Rule":
            raise bad(f"rule {rid}: resource_type must be Rule")
        actions = (
            ("ALLOW", "DROP", "REJECT", "JUMP_TO_APPLICATION") if obj.get("category") == "Environment" else ("ALLOW", "DROP", "REJECT")
        )
        r.setdefault("action", "ALLOW")  # optional in the vendor model
        _enum(r, "action", actions, required=True)
        _enum(r, "direction", ("IN", "OUT", "IN_OUT"))
        _enum(r, "ip_protocol", ("IPV4", "IPV6", "IPV4_IPV6"))
        if r.get("sequence_number") is not None and (not _is_int(r["sequence_number"]) or r["sequence_number"] < 0):
            raise bad(f"rule {rid}: sequence_number must be a non-negative integer")
        for k in ("logged", "disabled"):
            if k in r and not isinstance(r[k], bool):
                raise bad(f"rule {rid}: {k} must be true or false")
        if isinstance(r.get("tag"), str):
            r["tag"] = r["tag"][:RULE_TAG_KEPT]  # no length limit, "internally truncated after 32 characters"
        sources = _str_list(r, "source_groups") or ["ANY"]
        destinations = _str_list(r, "destination_groups") or ["ANY"]
        services = _str_list(r, "services") or ["ANY"]
        scope = _str_list(r, "scope") or ["ANY"]
        _references(sources, objects, f"rule {rid} source_groups", kind="groups", raw_ok=True)
        _references(destinations, objects, f"rule {rid} destination_groups", kind="groups", raw_ok=True)
        _references(services, objects, f"rule {rid} services", kind="services", raw_ok=False)
        _references(scope, objects, f"rule {rid} scope", kind="groups", raw_ok=False)
        if sources == ["ANY"] and destinations == ["ANY"] and scope == ["ANY"]:
            raise bad(f"rule {rid}: source, destination and scope cannot all be ANY", ALL_ANY_ERROR)
