"""The Pulumi dynamic provider for NSX groups, services and security policies, and its resource classes.

Each resource has the same inputs (engine property names):
- ``path``: the object's Policy API path (``/infra/domains/default/groups/eksa-mgmt-control-plane``): its id;
- ``body``: the whole desired object, as NSX takes it;
- ``connection``: host, port, username, auth, caBundle, insecure, timeoutSeconds, maxRetries (nothing secret);
- ``password``: the NSX password, always a Pulumi secret (the engine keeps the output secret too).

The provider object itself holds only the object kind: Pulumi pickles it (dill) into the state's secret
``__provider`` input and runs it in a separate process (``python -m pulumi.dynamic``, pulumi/pulumi
sdk/python/lib/pulumi/dynamic/__main__.py: ``get_provider`` unpickles ``__provider`` with ``dill.loads``), so it
must not capture a client or a credential. That process is started in the *stack's* project directory with the
stack's Python (``PULUMI_RUNTIME_VIRTUALENV`` from the project's runtime options, else ``python3``:
sdk/python/dist/pulumi-resource-pulumi-python; sdk/go/common/resource/plugin/provider_plugin.go passes the
project's runtime options), which need not hold this package: a consumer's stack names it ``eksa_firewall``, a
stack using it through ``provider/`` (another language) has no copy at all, and a stack that removed it must
still be able to delete its objects. So the provider is not pickled by reference to this module: it carries
the source of the two modules it runs (``nsx_client.py`` and this one, compressed, about 20 KB per resource)
and a loader that executes them into a private package in that process (``serialized_provider``). It needs
only the Python standard library and the Pulumi SDK there.
Clients are built on first use in that process (one per thread: the engine calls the provider concurrently).
If a resource has no ``password`` input, the provider falls back to the stack's ``nsxPassword``, read in
``configure``.

A create that cannot confirm its write (the answer lost, NSX gone) removes what it may have written before it
fails, and says so when it cannot. Whatever is left behind anyway is found by the next step: ids are
deterministic, so the next ``up`` looks before it creates and adopts its own object; and every stack has two
``NsxCleanup`` resources, which ``destroy`` (or turning NSX off for the stack) deletes: one that every group and
service depends on (created first, deleted last: it deletes, by id, every object under the stack's id prefix
that carries the stack's owner tag), and one that depends on every group and service and that every policy
depends on (deleted after the policies, before the groups and services: it deletes the stack's policies state
never knew, which would keep those groups and services from being deleted). ``eksa-firewall orphans`` lists
(and removes) the same objects between runs.

Writes: create = PATCH of the whole object (after checking that nobody else owns an object at that path);
update = PUT with the current ``_revision`` (a full replace: a PATCH would keep the rules and service
entries we removed), retried after re-reading on 409/412; delete = DELETE, 404 counts as done, and
400/500030 ("still referenced") is retried with backoff for a bounded time before NSX's message is raised.
Policies depend on their groups and services (``depends_on``), so Pulumi creates them last and deletes them
first.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import sys
import threading
import time
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic as dyn
from pulumi.dynamic.dynamic import serialize_provider

from .nsx_client import NsxApiError, NsxClient, NsxError, NsxUnavailableError

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
CLEANUP = "cleanup"  # the kind of NsxCleanup: no NSX object of its own; deletes the stack's leftovers
_CLEANUP_REPLACE_KEYS = ("owner", "domain", "idPrefix", "sweep")
SWEEPS = ("all", "policies")
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
        if kind not in _RESOURCE_TYPE and kind != CLEANUP:
            raise ValueError(f"unknown NSX object kind {kind!r}")
        self.kind = kind
        self._config_password: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Only the kind and this code are ever pickled: never a password read in configure(). See serialized_provider.
        return (eval, (_LOAD, {"LOADER": _LOADER, "SOURCES": shipped_sources(), "KIND": self.kind}))

    def configure(self, req: dyn.ConfigureRequest) -> None:
        value = req.config.get(PASSWORD_CONFIG_KEY)
        self._config_password = str(value) if value else None

    # --- Pulumi's verbs ------------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.CheckResult:
        failures: list[dyn.CheckFailure] = []
        conn = news.get("connection")
        if isinstance(conn, Mapping) and not conn.get("host"):
            failures.append(dyn.CheckFailure("connection", "host is required"))
        if self.kind == CLEANUP:
            failures += [dyn.CheckFailure(k, f"{k} is required") for k in _CLEANUP_REPLACE_KEYS if not news.get(k)]
            if news.get("sweep") not in (None, *SWEEPS):
                failures.append(dyn.CheckFailure("sweep", f"sweep must be one of {', '.join(SWEEPS)}"))
            return dyn.CheckResult(news, failures)
        path, body = news.get("path"), news.get("body")
        start, middle = _PATH_PREFIX[self.kind]
        if isinstance(path, str) and not (path.startswith(start) and middle in path[len(start) :]):
            failures.append(dyn.CheckFailure("path", f"{path!r} is not an NSX {self.kind} path ({start}...{middle}<id>)"))
        if isinstance(body, Mapping) and body.get("resource_type") not in (None, _RESOURCE_TYPE[self.kind]):
            failures.append(dyn.CheckFailure("body", f"resource_type must be {_RESOURCE_TYPE[self.kind]}"))
        return dyn.CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        replaces: list[str] = []
        identity: tuple[str, ...] = ("path",) if self.kind != CLEANUP else _CLEANUP_REPLACE_KEYS
        replaces += [k for k in identity if olds.get(k) != news.get(k)]
        old_conn, new_conn = olds.get("connection") or {}, news.get("connection") or {}
        if any(old_conn.get(k) != new_conn.get(k) for k in _REPLACE_CONNECTION_KEYS):
            replaces.append("connection")
        # __provider: the code that runs this resource (serialized_provider). A new version of it is an update
        # (a read that writes nothing when NSX already matches), so that state carries the code that deletes.
        changed = [
            k
            for k in (*identity, "body", "connection", "password", PROVIDER_KEY)
            if plain_numbers(olds.get(k)) != plain_numbers(news.get(k)) and not (k in ("password", PROVIDER_KEY) and news.get(k) is None)
        ]
        stables: list[str] = [] if replaces else [str(k) for k in identity]
        return dyn.DiffResult(changes=bool(changed), replaces=replaces, stables=stables, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        client = self._client(props)
        if self.kind == CLEANUP:  # nothing in NSX until it is deleted
            return dyn.CreateResult(id_=cleanup_id(props), outs=self._outs(props, {}))
        path, body = props["path"], self._body(props)
        existing = client.get(path)  # ids are deterministic: look before you create
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
            written = False
            try:
                client.patch(path, body)
                written = True
                current = client.get(path)
                if current is None:
                    raise NsxError(f"NSX accepted PATCH {path} but the object cannot be read back")
            except NsxError as exc:
                # Refused outright: nothing was written. Otherwise the write may have happened (its answer was
                # lost, or NSX went away before the read-back): remove it, since Pulumi records nothing of a
                # create that fails.
                if written or isinstance(exc, NsxUnavailableError):
                    self._undo_create(client, path, body, exc)
                raise
        return dyn.CreateResult(id_=path, outs=self._outs(props, current))

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        if self.kind == CLEANUP:
            return dyn.ReadResult(id_=id_, outs=dict(props))
        client = self._client(props)
        current = client.get(id_)
        if current is None:
            return dyn.ReadResult(id_=None, outs={})
        outs = dict(props)
        outs["body"] = project(props.get("body") or {}, current)
        outs["revision"] = current.get("_revision")
        return dyn.ReadResult(id_=id_, outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        if self.kind == CLEANUP:
            return dyn.UpdateResult(outs=self._outs(news, {}))
        client = self._client(news)
        current = self._replace(client, news["path"], self._body(news))
        return dyn.UpdateResult(outs=self._outs(news, current))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        client = self._client(props)
        if self.kind == CLEANUP:
            # "policies": deleted after the stack's policies, before its groups and services (policies left are
            # ones state never knew: they would keep those from being deleted); "all": deleted last.
            left = owned_objects(client, str(props["domain"]), str(props["idPrefix"]), str(props["owner"]))
            if props.get("sweep") == "policies":
                left = [o for o in left if o.kind == "policy"]
            if left:
                log.warning(
                    "NSX: removing %d object(s) of %s that state did not know: %s", len(left), props["owner"], [o.path for o in left]
                )
            remove_objects(client, left)
            return
        delete_by_id(client, id_ or str(props.get("path") or ""))

    # --- helpers -----------------------------------------------------------------------------------

    def _undo_create(self, client: NsxClient, path: str, body: Mapping[str, Any], cause: NsxError) -> None:
        try:
            current = client.get(path)
            if current is not None and owner_of(current) == owner_of(body):
                delete_by_id(client, path)
        except NsxError as exc:
            raise NsxError(
                f"{cause}. NSX may now hold {path} from this attempt, and removing it failed too ({exc}): the next `pulumi up` "
                "adopts it, `pulumi destroy` deletes it, and `eksa-firewall orphans --delete` removes it"
            ) from None

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
        outs = {k: v for k, v in props.items() if k != PROVIDER_KEY}
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


def delete_by_id(client: NsxClient, path: str) -> None:
    """DELETE ``path``; 404 is done; "still referenced" (a policy being deleted in parallel) waits, bounded."""
    for attempt in range(1, MAX_DELETE_WAITS + 1):
        try:
            if not client.delete(path):
                log.info("NSX %s was already gone", path)
            return
        except NsxApiError as exc:
            if exc.status == 400 and exc.error_code in STILL_REFERENCED and attempt < MAX_DELETE_WAITS:
                delay = min(client.max_backoff, client.backoff * 2**attempt) * random.uniform(0.5, 1.0)
                log.warning("NSX %s is still referenced (error %s); retrying delete in %.2fs", path, exc.error_code, delay)
                time.sleep(delay)
                continue
            raise


class NsxObject:
    """An object found in NSX: its kind (group, service, policy), path and owner tag."""

    __slots__ = ("kind", "owner", "path")

    def __init__(self, kind: str, path: str, owner: str | None) -> None:
        self.kind, self.path, self.owner = kind, path, owner

    def __repr__(self) -> str:
        return f"NsxObject({self.kind}, {self.path}, owner={self.owner!r})"


_DELETE_ORDER = {"policy": 0, "group": 1, "service": 1}


def objects_under_prefix(client: NsxClient, domain: str, id_prefix: str) -> list[NsxObject]:
    """Every group, service and security policy whose id starts with ``<id_prefix>-``, whoever owns it."""
    found: list[NsxObject] = []
    for kind, listing in (
        ("policy", f"/infra/domains/{domain}/security-policies"),
        ("group", f"/infra/domains/{domain}/groups"),
        ("service", "/infra/services"),
    ):
        for obj in client.list(listing, page_size=1000):
            oid = str(obj.get("id") or "")
            if oid.startswith(f"{id_prefix}-"):
                found.append(NsxObject(kind, str(obj.get("path") or f"{listing}/{oid}"), owner_of(obj)))
    return sorted(found, key=lambda o: (_DELETE_ORDER[o.kind], o.path))


def owned_objects(client: NsxClient, domain: str, id_prefix: str, owner: str, known: Iterable[str] = ()) -> list[NsxObject]:
    """The objects under the prefix that carry ``owner``'s tag and are not in ``known`` (paths state holds)."""
    skip = set(known)
    return [o for o in objects_under_prefix(client, domain, id_prefix) if o.owner == owner and o.path not in skip]


def remove_objects(client: NsxClient, objects: Iterable[NsxObject]) -> None:
    """Delete by id: security policies first (they refer to the groups and services)."""
    for obj in sorted(objects, key=lambda o: (_DELETE_ORDER[o.kind], o.path)):
        delete_by_id(client, obj.path)


def cleanup_id(props: Mapping[str, Any]) -> str:
    conn = props.get("connection") or {}
    return f"{conn.get('host')}/{props.get('domain')}/{props.get('idPrefix')}-*@{props.get('owner')}:{props.get('sweep')}"


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
        props[PROVIDER_KEY] = pulumi.Output.secret(serialized_provider(self.kind))
        pulumi.CustomResource.__init__(self, f"pulumi-python:{self._resource_type_name}", name, props, opts)


PROVIDER_KEY = "__provider"
# The modules the provider process runs, in import order: shipped as source (see serialized_provider).
SHIPPED_MODULES = ("nsx_client", "nsx_provider")
# What the pickle does when it is loaded: eval(_LOAD, {"LOADER": ..., "SOURCES": ..., "KIND": ...}).
_LOAD = "exec(LOADER) or provider"
_LOADER = """\
import sys, types, zlib
package = "eksa_firewall_nsx_" + __import__("hashlib").sha256(repr(SOURCES).encode()).hexdigest()[:16]
if package + ".nsx_provider" not in sys.modules:
    sys.modules[package] = types.ModuleType(package)
    sys.modules[package].__path__ = []
    for name, text in SOURCES:
        module = types.ModuleType(package + "." + name)
        module.__package__ = package
        sys.modules[module.__name__] = module
        exec(compile(zlib.decompress(text).decode("utf-8"), "<eksa-firewall " + name + ".py>", "exec"), module.__dict__)
    sys.modules[package + ".nsx_provider"]._SOURCES = SOURCES
provider = sys.modules[package + ".nsx_provider"].NsxProvider(KIND)
"""
_SOURCES: tuple[tuple[str, bytes], ...] | None = None  # set by the loader in the provider process
_SERIALIZED: dict[str, str] = {}


def shipped_sources() -> tuple[tuple[str, bytes], ...]:
    """(module name, zlib-compressed UTF-8 source) of every shipped module, read once per process."""
    global _SOURCES  # noqa: PLW0603 - a per-process cache of two files
    if _SOURCES is None:
        here = Path(sys.modules[__name__].__file__ or "").parent
        _SOURCES = tuple((name, zlib.compress((here / f"{name}.py").read_bytes(), 9)) for name in SHIPPED_MODULES)
    return _SOURCES


def load_serialized(blob: str) -> NsxProvider:
    """What the provider process does with ``__provider`` (pulumi.dynamic.__main__.get_provider): base64, then dill."""
    import dill

    return dill.loads(base64.b64decode(blob))


def serialized_provider(kind: str) -> str:
    """The form of ``NsxProvider(kind)`` that Pulumi stores in each resource's ``__provider`` input.

    ``pulumi.dynamic.serialize_provider`` (dill) writes what ``NsxProvider.__reduce__`` returns: a call of the
    builtin ``eval`` that runs ``_LOADER`` on the sources of ``SHIPPED_MODULES``. Loading it in any process with
    the Pulumi SDK executes those sources into a private package (named after their hash, so two versions of the
    code can coexist in one process) and returns ``NsxProvider(kind)`` of that package: no import of this package
    by name, no Python bytecode (which would tie the state to one Python version).

    Computed once per kind and process: every resource of a kind carries the same provider, and
    ``pulumi.dynamic.serialize_provider`` wraps pickle's dict writer once more on every call (pulumi 3.272 does
    not undo it), so calling it per resource made each call slower than the last and failed with RecursionError
    after about a thousand dynamic resources in one process (the test suite reached it)."""
    if kind not in _SERIALIZED:
        _SERIALIZED[kind] = serialize_provider(NsxProvider(kind))
    return _SERIALIZED[kind]


class NsxGroup(_NsxResource, module="nsx", name="Group"):
    kind = "group"


class NsxService(_NsxResource, module="nsx", name="Service"):
    kind = "service"


class NsxPolicy(_NsxResource, module="nsx", name="SecurityPolicy"):
    kind = "policy"


class NsxCleanup(dyn.Resource, module="nsx", name="Cleanup"):
    """No NSX object of its own. Its delete removes, by id, the objects under ``idPrefix`` in ``domain`` that carry
    ``owner``'s tag (``sweep``: "all", policies first; or "policies" only): the objects whose create lost its
    answer and that state therefore never held. The component places it in the dependency graph so that Pulumi
    deletes it when what it removes can no longer be in state (see the module's docstring)."""

    def __init__(
        self,
        name: str,
        *,
        sweep: str,
        owner: str,
        domain: str,
        id_prefix: str,
        connection: Mapping[str, Any],
        password: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {"owner": owner, "domain": domain, "idPrefix": id_prefix, "sweep": sweep, "connection": dict(connection)}
        if password is not None:
            props["password"] = pulumi.Output.secret(password)
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["password"]))
        props[PROVIDER_KEY] = pulumi.Output.secret(serialized_provider(CLEANUP))
        pulumi.CustomResource.__init__(self, f"pulumi-python:{self._resource_type_name}", name, props, opts)
