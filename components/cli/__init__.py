"""The ``eksa-firewall`` command line (also ``python -m components.cli``).

  matrix   the ports catalog as a table, for one platform and EKS-A version
  plan     run the Pulumi program offline under Pulumi's mock engine: summary, flows, resources, outputs
  verify   read the rendered objects back into accesses; exit 1 on any missing or excess access
  diff     two plans (plan --format json) as Markdown for a pull request
  acl      the flows with concrete addresses, for physical firewalls (bare metal)
  probe    from this machine, check that everything a role must reach is reachable (any platform)

Exit status: 0 success, 1 a check failed (verify, probe, diff --fail-on-danger), 2 bad input (the message
names the key or argument and the fix), 3 an internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ..errors import EksaFirewallError
from .common import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, PLAN_SCHEMA
from .matrix import catalog_reference

__all__ = ["COMMANDS", "PLAN_SCHEMA", "catalog_reference", "main", "parser"]

# The commands, in the order `--help` lists them: modules of this package, each with `add_parser(subparsers)`,
# which adds the command and sets `func` (parsed arguments -> exit status). A new command is a module here and
# its name in this list. Keep the modules' imports light: every command's module is imported for `--help`.
COMMANDS: list[str] = ["matrix", "plan", "verify", "diff", "acl", "probe", "export", "orphans"]

DEBUG_VARIABLE = "EKSA_FIREWALL_DEBUG"  # set to 1: an internal error shows its traceback


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eksa-firewall", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every exit path ends with a status and at most one message on stderr, never a traceback."""
    try:
        args = parser().parse_args(argv)
        status = int(args.func(args))
        sys.stdout.flush()  # a reader that went away is noticed here, not at exit
        return status
    except BrokenPipeError:
        # The reader stopped early (`plan | head`): not an error. Point stdout at /dev/null so that the
        # interpreter's last flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("eksa-firewall: interrupted", file=sys.stderr)
        return 130
    except EksaFirewallError as exc:
        print(f"eksa-firewall: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ModuleNotFoundError as exc:
        missing = _missing_sdk(exc)
        if missing is None:
            return _internal_error(exc)
        print(f"eksa-firewall: {missing}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the last resort: a bug, reported in one line
        if _ours(exc):
            print(f"eksa-firewall: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return _internal_error(exc)


def _ours(exc: BaseException) -> bool:
    """An EksaFirewallError raised by this same code loaded under its other name. Installed (`eksa-firewall`), the
    package is `eksa_firewall`; the program it runs, this repository's __main__.py, imports it as `components`: an
    error the program raises is then `components.errors.ConfigError`, not a subclass of this module's classes."""
    return any(c.__name__ == "EksaFirewallError" and c.__module__.rpartition(".")[2] == "errors" for c in type(exc).__mro__)


def _missing_sdk(exc: ModuleNotFoundError) -> str | None:
    """A provider SDK that is not installed: which platform needs it and how to install it."""
    from ..platform import platforms

    for platform in platforms().values():
        for sdk in platform.sdks:
            if exc.name == sdk or (exc.name or "").startswith(sdk + "."):
                return (
                    f"the {platform.name} platform needs the Python package {sdk}, which is not installed. "
                    f"Fix: pip install 'eksa-firewall[{platform.name}]' (in this repository: make plan installs every platform)"
                )
    return None


def _internal_error(exc: BaseException) -> int:
    if os.environ.get(DEBUG_VARIABLE) == "1":
        raise exc
    text = " ".join(str(exc).split()) or "no message"
    print(
        f"eksa-firewall: internal error ({type(exc).__name__}: {text[:300]}). This is a bug: please report it with the "
        f"command you ran; {DEBUG_VARIABLE}=1 shows the traceback",
        file=sys.stderr,
    )
    return EXIT_INTERNAL
