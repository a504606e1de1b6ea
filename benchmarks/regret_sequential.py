"""The auto-regret grid timed the old way: each method on its own, one after another.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.regret_sequential``

A control for ``gpuconv bench --workloads regret``, which times the methods
in turns (`gpuconv._bench.timing.fastest_in_turns`): the same grid, warm-up
and repeats, but every method timed with `fastest_seconds` before the next
one starts, as the grid was timed until 2026-11-29.
"""

from __future__ import annotations

from gpuconv._bench import regret
from gpuconv._bench.timing import fastest_seconds
from gpuconv.cli import main as cli


def one_after_another(funcs: dict, repeats: int, *, budget: float, warmup: float,
                      runs_per_turn: int) -> dict:
    """`fastest_in_turns`' signature, each function timed on its own."""
    return {name: fastest_seconds(func, repeats=repeats, budget=budget, warmup=warmup)
            for name, func in funcs.items()}


def main() -> None:
    regret.fastest_in_turns = one_after_another  # the name measure_case looks up
    cli(["bench", "--workloads", "regret"])


if __name__ == "__main__":
    main()
