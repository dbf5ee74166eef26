"""Start a Pulumi plugin (provider or policy pack) as Python program, the way the CLI would, without the CLI.

Both hosts print the port of their gRPC server on the first line of stdout. Every wait is bounded and the
process group is killed in a ``finally``.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import grpc

START_TIMEOUT_S = 90  # the provider imports every provider SDK first (pulumi_nutanix alone takes seconds)
RPC_TIMEOUT_S = 60


@contextmanager
def serving(script: Path, args: Sequence[str] = (), *, log: Path, python_args: Sequence[str] = ()) -> Iterator[grpc.Channel]:
    """Run ``python [python_args] script args...`` from the script's folder; yield a channel to the port it prints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, *python_args, str(script), *args],
            cwd=script.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            start_new_session=True,  # its own process group: killed whole below
        )
        try:
            lines: queue.Queue[bytes] = queue.Queue()
            assert proc.stdout is not None
            stdout = proc.stdout
            threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
            try:
                first = lines.get(timeout=START_TIMEOUT_S)
            except queue.Empty:
                raise AssertionError(f"{script} printed no port within {START_TIMEOUT_S} s; stderr: {log.read_text()[-2000:]}") from None
            port = first.decode().strip()
            assert port.isdigit(), f"{script} printed {first!r} instead of a port; stderr: {log.read_text()[-2000:]}"
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            try:
                grpc.channel_ready_future(channel).result(timeout=RPC_TIMEOUT_S)
                yield channel
            finally:
                channel.close()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
