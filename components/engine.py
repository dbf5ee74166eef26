"""Run the real Pulumi program under Pulumi's mock engine and record every registration.

This is how ``plan`` works without the Pulumi CLI or provider plugins: ``__main__.py`` runs unchanged,
every ``RegisterResource`` call is recorded (type, name, parent, inputs under their engine property names),
and the stack outputs are resolved. Nothing here talks to a cloud. What the mock engine does *not*
exercise: provider-side validation and defaults, real ids and computed outputs, and transforms.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import os
import runpy
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from .registration import SECRET, Registration
from .stackfile import StackConfig

__all__ = ["SECRET", "ProgramRun", "Registration", "run_program", "run_stack"]

T = TypeVar("T")

UNKNOWN = "[unknown]"


@dataclass(frozen=True, kw_only=True, slots=True)
class ProgramRun:
    project: str
    stack: str
    resources: tuple[Registration, ...]
    outputs: Mapping[str, Any]  # secret outputs are "[secret]"

    def of_type(self, *types: str) -> tuple[Registration, ...]:
        return tuple(r for r in self.resources if r.type in types)


def plain(value: Any) -> Any:
    """A protobuf-Struct value (as a dict) -> plain JSON, with secrets and unknowns made visible."""
    if isinstance(value, dict):
        sig = value.get(rpc._special_sig_key)
        if sig == rpc._special_secret_sig:
            return SECRET
        if sig == rpc._special_resource_sig:
            return value.get("urn")
        if sig == rpc._special_output_value_sig:
            return SECRET if value.get("secret") else plain(value.get("value", UNKNOWN))
        if sig is not None:
            return f"[{sig}]"
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == rpc.UNKNOWN:
        return UNKNOWN
    return value


def mock_id(type_: str, name: str) -> str:
    """A deterministic, provider-looking id, so plans are stable and golden-testable."""
    digest = hashlib.sha256(f"{type_}::{name}".encode()).hexdigest()[:17]
    prefix = {"aws:ec2/securityGroup:SecurityGroup": "sg-"}.get(type_, "")
    if type_.startswith("aws:vpc/securityGroup"):
        prefix = "sgr-"
    return f"{prefix}{digest}"


class _Mocks(pulumi_mocks.Mocks):
    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        rid = mock_id(args.typ, args.name)
        return rid, {**args.inputs, "id": rid}

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, recorded: list[Registration]) -> None:
        super().__init__(_Mocks())
        self.recorded = recorded

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = plain(json_format.MessageToDict(request.object))
            self.recorded.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    id=(response.id or None) if request.custom else None,
                    parent=request.parent or None,
                    custom=bool(request.custom),
                    provider=request.provider or None,
                    inputs=inputs,
                )
            )
        return response


def run_program(
    program: Path,
    *,
    project: str,
    stack: str,
    config: Mapping[str, str],
    secret_keys: Sequence[str] = (),
    recorded: list[Registration] | None = None,
) -> ProgramRun:
    """Run ``program`` (a ``__main__.py``) under the mock engine with ``config`` (``"<project>:<key>"`` ->
    string or JSON text). Exceptions raised by the program propagate unchanged; pass ``recorded`` to see
    what was registered before one was raised.

    Runs in a fresh context so that repeated runs in one process never see each other's stack or config.
    """
    recorded = [] if recorded is None else recorded
    return _with_own_event_loops(
        lambda: contextvars.Context().run(_run, program, project, stack, dict(config), list(secret_keys), recorded)
    )


def _with_own_event_loops(body: Callable[[], T]) -> T:
    """Run ``body`` with an event loop and executor threads whose event loops are all closed when it returns.

    Why: Pulumi's SDK sends every registration from a thread of the loop's default executor
    (``run_in_executor`` in pulumi/runtime/resource.py), and ``MockMonitor.RegisterResource`` first calls
    ``_ensure_event_loop()`` (pulumi/runtime/mocks.py; sync_await.py), which gives that thread a new event loop
    of its own and never closes it. An event loop and its self-pipe sockets form a reference cycle; when
    the executor's threads end at exit, the loops become garbage and the collector finalizes each cycle's
    objects in no fixed order. When a socket comes first, its finalizer closes the descriptor (fileno() is
    then -1), and the loop's ``__del__`` -> ``close()`` -> ``_remove_reader(-1)`` raises "ValueError: Invalid
    file descriptor: -1", which Python prints as "Exception ignored in: BaseEventLoop.__del__" on stderr
    (about one ``plan`` in four on the vSphere and Snow stacks). A closed loop has nothing left to do in
    ``__del__``. So the run gets its own loop and its own executor, whose threads start with a loop made
    here; at the end the executor's threads are joined and every one of these loops is closed.

    When a loop is already running in this thread (a caller inside asyncio), the run uses that loop, as
    Pulumi's ``_sync_await`` does."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return body()
    thread_loops: list[asyncio.AbstractEventLoop] = []
    lock = threading.Lock()

    def give_thread_a_loop() -> None:
        thread_loop = asyncio.new_event_loop()
        asyncio.set_event_loop(thread_loop)  # what _ensure_event_loop() then finds, instead of making one
        with lock:
            thread_loops.append(thread_loop)

    loop = asyncio.new_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="eksa-firewall-engine", initializer=give_thread_a_loop))
    asyncio.set_event_loop(loop)
    try:
        return body()
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())  # joins the executor's threads
        finally:
            asyncio.set_event_loop(None)
            loop.close()
            for thread_loop in thread_loops:  # their threads have ended: nothing runs them any more
                thread_loop.close()


def run_stack(sc: StackConfig, *, recorded: list[Registration] | None = None) -> ProgramRun:
    """Run the project's program with one stack's config, as ``pulumi up`` would (offline)."""
    return run_program(
        sc.project.program,
        project=sc.project.name,
        stack=sc.stack,
        config=sc.engine_config(),
        secret_keys=sc.secret_keys,
        recorded=recorded,
    )


def _run(
    program: Path, project: str, stack: str, config: dict[str, str], secret_keys: list[str], recorded: list[Registration]
) -> ProgramRun:
    monitor = _RecordingMonitor(recorded)
    pulumi.runtime.set_all_config(config, secret_keys)
    pulumi.runtime.set_mocks(_Mocks(), project=project, stack=stack, preview=False, monitor=monitor)
    program_dir = str(program.parent.resolve())
    outputs: dict[str, Any] = {}

    def body() -> None:
        saved_path, saved_cwd = list(sys.path), os.getcwd()
        sys.path.insert(0, program_dir)
        os.chdir(program_dir)  # the Pulumi CLI runs programs from the project directory
        try:
            runpy.run_path(str(program), run_name="__main__")
        finally:
            sys.path[:] = saved_path
            os.chdir(saved_cwd)

    _sync_await(run_pulumi_func(body))

    root = get_root_resource()
    exported: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})

    async def resolve() -> None:
        for key, value in exported.items():
            # An Output is awaited as it is: Output.from_input would wrap every dict, list and value inside it in an
            # Output of its own once it resolves (pulumi/output.py from_input), thousands for a large stack.
            out = value if isinstance(value, pulumi.Output) else pulumi.Output.from_input(value)
            secret = await out.is_secret()
            resolved = await out.future(with_unknowns=True)
            outputs[key] = SECRET if secret else _jsonable(resolved)

    _sync_await(run_pulumi_func(resolve))
    return ProgramRun(project=project, stack=stack, resources=tuple(monitor.recorded), outputs=outputs)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
