"""The Pulumi dynamic provider for NSX groups, services and security policies, and its resource classes.

Each resource has the same inputs (engine property names):
- ``path``: the object's Policy API path (``/infra/domains/default/groups/eksa-mgmt-control-plane``): its id;
- ``body``: the whole desired object, as NSX takes it;
- ``connection``: host, port, username, auth, caBundle, insecure, timeoutSeconds, maxRetries (nothing secret);
- ``password``: the NSX password, always a Pulumi secret (the engine keeps the output secret too).

The provider object itself holds only the object kind: Pulumi pickles it (dill) into the state's secret
``__provider`` input and runs it in a separate process, so it must not capture a client or a credential.
Clients are built on first use in that process (one per thread: the engine calls the provider concurrently).
If a resource has no ``password`` input, the provider falls back to the stack's ``nsxPassword``, read in
``configure``.

Writes: create = PATCH of the whole object (after checking that nobody else owns an object at that path);
update = PUT with the current ``_revision`` (a full replace: a PATCH would keep the rules and service
entries we removed), retried after re-reading on 409/412; delete = DELETE, 404 counts as done, and
400/500030 ("still referenced") is retried with backoff for a bounded time before NSX's message is raised.
Policies depend on their groups and services (``depends_on``), so Pulumi creates them last and deletes them
first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic as dyn
from pulumi.dynamic.dynamic import serialize_provider

from .nsx_client import NsxApiError, NsxClient, NsxError

log = logging.getLogger(__name__)

OWNER_SCOPE = "eksa-firewall/owner"
CONFLICT_STATUS = (409, 412)
STILL_REFERENCED = {500030, 500045}  # in use; pending delete
MAX_CONFLICT_RETRIES = 5
MAX_DELETE_WAITS = 8
PASSWORD_CONFIG_KEY = "nsxPassword"

_PATH_PREFIX = {
    "group": ("/infra/domains/", "/groups/"),
    "service": ("/infra/services/", ""),
    "policy": ("/infra/domains/", "/security-policies/"),
}
_RESOURCE_TYPE = {"group": "Group", "service": "Service", "policy": "SecurityPolicy"}
_REPLACE_CONNECTION_KEYS = ("host", "port")  # another NSX Manager: a new object there, the old one deleted

_local = threading.local()


def plain_numbers(value: Any) -> Any:
    """Pulumi carries numbers as floats; NSX wants integers where they are integers."""
    if isinstance(value, Mapping):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def covers(desired: Any, actual: Any) -> bool:
    """Does ``actual`` (as NSX returns it: with server fields and defaults) hold everything ``desired`` says?"""
    if isinstance(desired, Mapping):
        return isinstance(actual, Mapping) and all(covers(v, actual.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(desired) != len(actual):
            return False
        if all(isinstance(d, Mapping) and "id" in d for d in desired):
            by_id = {a.get("id"): a for a in actual if isinstance(a, Mapping)}
            return all(covers(d, by_id.get(d["id"])) for d in desired)
        return all(covers(d, a) for d, a in zip(desired, actual, strict=True))
    return desired == actual


def project(desired: Any, actual: Any) -> Any:
    """``actual`` cut down to the shape of ``desired`` (for refresh: drift shows as a diff of ``body``)."""
    if isinstance(desired, Mapping) and isinstance(actual, Mapping):
        return {k: project(v, actual[k]) for k, v in desired.items() if k in actual}
    if isinstance(desired, list) and isinstance(actual, list):
        if desired and all(isinstance(d, Mapping) and "id" in d for d in desired):
            by_id = {d["id"]: d for d in desired}
            return [project(by_id.get(a.get("id"), a), a) if isinstance(a, Mapping) else a for a in actual]
        return actual
    return actual


def owner_of(obj: Mapping[str, Any]) -> str | None:
    for t in obj.get("tags") or []:
        if isinstance(t, Mapping) and t.get("scope") == OWNER_SCOPE:
            return str(t.get("tag"))
    return None


class NsxProvider(dyn.ResourceProvider):
    """CRUD for one kind of NSX Policy object ("group", "service" or "policy"). Holds no client or secret."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        if kind not in _RESOURCE_TYPE:
            raise ValueError(f"unknown NSX object kind {kind!r}")
        self.kind = kind
        self._config_password: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Only the kind is ever pickled: never a password read in configure().
        return {"kind": self.kind}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.kind = state["kind"]
        self._config_password = None

    def configure(self, req: dyn.ConfigureRequest) -> None:
        value = req.config.get(PASSWORD_CONFIG_KEY)
        self._config_password = str(value) if value else None

    # --- Pulumi's verbs ------------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.CheckResult:
        failures: list[dyn.CheckFailure] = []
        path, body = news.get("path"), news.get("body")
        start, middle = _PATH_PREFIX[self.kind]
        if isinstance(path, str) and not (path.startswith(start) and middle in path[len(start) :]):
            failures.append(dyn.CheckFailure("path", f"{path!r} is not an NSX {self.kind} path ({start}...{middle}<id>)"))
        if isinstance(body, Mapping) and body.get("resource_type") not in (None, _RESOURCE_TYPE[self.kind]):
            failures.append(dyn.CheckFailure("body", f"resource_type must be {_RESOURCE_TYPE[self.kind]}"))
        conn = news.get("connection")
        if isinstance(conn, Mapping) and not conn.get("host"):
            failures.append(dyn.CheckFailure("connection", "host is required"))
        return dyn.CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        replaces: list[str] = []
        if olds.get("path") != news.get("path"):
            replaces.append("path")
        old_conn, new_conn = olds.get("connection") or {}, news.get("connection") or {}
        if any(old_conn.get(k) != new_conn.get(k) for k in _REPLACE_CONNECTION_KEYS):
            replaces.append("connection")
        changed = [
            k
            for k in ("path", "body", "connection", "password")
            if plain_numbers(olds.get(k)) != plain_numbers(news.get(k)) and not (k == "password" and news.get(k) is None)
        ]
        return dyn.DiffResult(changes=bool(changed), replaces=replaces, stables=[] if replaces else ["path"], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        client = self._client(props)
        path, body = props["path"], self._body(props)
        existing = client.get(path)
        if existing is not None:
            theirs = owner_of(existing)
            if theirs != owner_of(body):
                raise NsxError(
                    f"NSX already has {path} and it is not managed by {owner_of(body)!r} (owner tag: {theirs!r}). "
                    "Delete or rename that object, or set a different vsphere.nsx.idPrefix for this stack"
                )
            # Ours, left over from an interrupted run: take it back with a full replace.
            current = self._replace(client, path, body)
        else:
            client.patch(path, body)
            current = client.get(path)
            if current is None:
                raise NsxError(f"NSX accepted PATCH {path} but the object cannot be read back")
        return dyn.CreateResult(id_=path, outs=self._outs(props, current))

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        client = self._client(props)
        current = client.get(id_)
        if current is None:
            return dyn.ReadResult(id_=None, outs={})
        outs = dict(props)
        outs["body"] = project(props.get("body") or {}, current)
        outs["revision"] = current.get("_revision")
        return dyn.ReadResult(id_=id_, outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        client = self._client(news)
        current = self._replace(client, news["path"], self._body(news))
        return dyn.UpdateResult(outs=self._outs(news, current))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        client = self._client(props)
        for attempt in range(1, MAX_DELETE_WAITS + 1):
            try:
                if not client.delete(id_):
                    log.info("NSX %s was already gone", id_)
                return
            except NsxApiError as exc:
                if exc.status == 400 and exc.error_code in STILL_REFERENCED and attempt < MAX_DELETE_WAITS:
                    # A policy that still refers to it is being deleted (or realized) in parallel: wait.
                    delay = min(client.max_backoff, client.backoff * 2**attempt) * random.uniform(0.5, 1.0)
                    log.warning("NSX %s is still referenced (error %s); retrying delete in %.2fs", id_, exc.error_code, delay)
                    time.sleep(delay)
                    continue
                raise

    # --- helpers -----------------------------------------------------------------------------------

    def _replace(self, client: NsxClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Make the object at ``path`` equal ``body``: PUT with the current _revision, re-read on 409/412."""
        for _ in range(MAX_CONFLICT_RETRIES):
            current = client.get(path)
            if current is None:
                client.patch(path, body)  # deleted behind our back: create it again
            elif covers(body, current):
                return current  # already as desired (e.g. our earlier PUT whose answer was lost)
            else:
                try:
                    client.put(path, {**body, "_revision": current.get("_revision")})
                except NsxApiError as exc:
                    if exc.status in CONFLICT_STATUS:
                        log.info("NSX %s changed while we wrote it (HTTP %s); re-reading", path, exc.status)
                        continue
                    raise
            latest = client.get(path)
            if latest is not None:
                return latest
        raise NsxError(f"NSX {path} kept changing under us: gave up after {MAX_CONFLICT_RETRIES} attempts (is another tool editing it?)")

    def _body(self, props: Mapping[str, Any]) -> dict[str, Any]:
        body = plain_numbers(props.get("body") or {})
        return {k: v for k, v in body.items() if not k.startswith("_")}

    def _outs(self, props: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
        outs = {k: v for k, v in props.items() if k != "__provider"}
        outs["revision"] = current.get("_revision")
        return outs

    def _password(self, props: Mapping[str, Any]) -> str:
        value = props.get("password") or self._config_password
        if not value or not isinstance(value, str):
            raise NsxError("no NSX password: set it with `pulumi config set --secret nsxPassword`")
        return value

    def _client(self, props: Mapping[str, Any]) -> NsxClient:
        conn = plain_numbers(dict(props.get("connection") or {}))
        password = self._password(props)
        key = json.dumps(conn, sort_keys=True) + hashlib.sha256(password.encode()).hexdigest()
        clients: dict[str, NsxClient] = getattr(_local, "clients", None) or {}
        _local.clients = clients
        client = clients.get(key)
        if client is None:
            client = client_from_connection(conn, password)
            clients[key] = client
        return client


def client_from_connection(conn: Mapping[str, Any], password: str) -> NsxClient:
    return NsxClient(
        host=str(conn["host"]),
        port=int(conn.get("port", 443)),
        scheme=str(conn.get("scheme", "https")),
        username=str(conn.get("username", "")),
        password=password,
        auth=str(conn.get("auth", "session")),
        ca_bundle=conn.get("caBundle"),
        insecure=bool(conn.get("insecure", False)),
        timeout=float(conn.get("timeoutSeconds", 30)),
        max_retries=int(conn.get("maxRetries", 5)),
        backoff=float(conn.get("backoffSeconds", 0.4)),
        max_backoff=float(conn.get("maxBackoffSeconds", 10.0)),
    )


def close_clients() -> None:
    """Close this thread's clients (tests; the provider process simply exits)."""
    for client in (getattr(_local, "clients", None) or {}).values():
        client.close()
    _local.clients = {}


# --- resources ---------------------------------------------------------------------------------------


class _NsxResource(dyn.Resource):
    kind: ClassVar[str]
    path: pulumi.Output[str]
    revision: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        *,
        path: pulumi.Input[str],
        body: pulumi.Input[Mapping[str, Any]],
        connection: Mapping[str, Any],
        password: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {"path": path, "body": body, "connection": dict(connection), "revision": None}
        if password is not None:
            props["password"] = pulumi.Output.secret(password)
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["password"]))
        # What dyn.Resource.__init__ does, with the provider serialized once per kind (see serialized_provider).
        props["__provider"] = pulumi.Output.secret(serialized_provider(self.kind))
        pulumi.CustomResource.__init__(self, f"pulumi-python:{self._resource_type_name}", name, props, opts)


_SERIALIZED: dict[str, str] = {}


def serialized_provider(kind: str) -> str:
    """The dill form of ``NsxProvider(kind)`` that Pulumi stores in each resource's ``__provider`` input.

    Computed once per kind and process: every resource of a kind carries the same provider (it holds only the
    kind), and ``pulumi.dynamic.serialize_provider`` wraps pickle's dict writer once more on every call (pulumi
    3.272 does not undo it), so calling it per resource made each call slower than the last and failed with
    RecursionError after about a thousand dynamic resources in one process (the test suite reached it)."""
    if kind not in _SERIALIZED:
        _SERIALIZED[kind] = serialize_provider(NsxProvider(kind))
    return _SERIALIZED[kind]


class NsxGroup(_NsxResource, module="nsx", name="Group"):
    kind = "group"


class NsxService(_NsxResource, module="nsx", name="Service"):
    kind = "service"


class NsxPolicy(_NsxResource, module="nsx", name="SecurityPolicy"):
    kind = "policy"
