"""Command-line plumbing of the simulated programs: Lotus-like usage errors, exit codes, API access."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from lotus_sim.repo import CliError, print_error
from lotus_sim.rpcclient import CallError, RpcClient, api_info_from
from lotus_sim.runtime import KnobError

__all__ = ["LotusParser", "bool_flag", "connect", "run_cli"]


class LotusParser(argparse.ArgumentParser):
    """An ArgumentParser that fails like urfave/cli in Lotus: `Incorrect Usage: ...` and exit 1."""

    def error(self, message: str) -> NoReturn:
        print(f"Incorrect Usage: {message}\n", file=sys.stderr)
        self.print_usage(sys.stderr)
        raise SystemExit(1)


def bool_flag(text: str) -> bool:
    """Parse the value of a `--flag=value` boolean as urfave/cli does."""
    lowered = text.strip().lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r} (use true or false)")


def connect(env_var: str, repo: Path, version: str = "v0") -> RpcClient:
    """A client for the node named by `env_var` (e.g. FULLNODE_API_INFO) or by the repo's api/token files."""
    info = api_info_from(env_var, repo)
    return RpcClient(info.url(version), info.token)


def run_cli(main: Callable[[list[str]], int], argv: list[str]) -> int:
    """Run a program's main, turning expected failures into `ERROR: ...` and exit 1, never a traceback."""
    try:
        return main(argv)
    except CliError as exc:
        print_error(exc.message)
        return exc.code
    except (CallError, KnobError, ValueError) as exc:
        # ValueError covers the file readers' FormatError: a corrupt snapshot or backup is bad input.
        print_error(str(exc))
        return 1
    except KeyboardInterrupt:
        return 130
