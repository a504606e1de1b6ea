"""The ``gpuconv`` command: one module per subcommand.

>>> from gpuconv.cli import build_parser
>>> sorted(build_parser()._subparsers._group_actions[0].choices)
['bench', 'demo', 'filter', 'info', 'kernels', 'tune']
"""

from __future__ import annotations

import argparse
import os
import sys

from . import bench, demo, filter, info, kernels, tune

SUBCOMMANDS = {"demo": demo, "info": info, "kernels": kernels, "filter": filter,
               "bench": bench, "tune": tune}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpuconv", description="Batched 1-D convolution on the GPU or the CPU.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in SUBCOMMANDS.items():
        module.add_arguments(commands.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv=None) -> int:
    """Run ``gpuconv COMMAND ...``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status = SUBCOMMANDS[args.command].run(args) or 0
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # The reader went away (``gpuconv info | head -3``): stop quietly, as ``cat`` would.
        # Point stdout at /dev/null so that Python's flush at exit does not raise again
        # (the recipe of the ``signal`` module's documentation, "Note on SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, RuntimeError, OSError, MemoryError) as error:  # OSError: a directory
        # we may not write to, a full disk; MemoryError: a filter of 10**13 taps
        # One line, as promised: a compiler's log or a multi-line message joined.
        message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        print(f"gpuconv {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
