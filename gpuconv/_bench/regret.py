"""Auto regret: the time of ``auto``'s choice over the best of direct, FFT and blocked FFT.

On a grid of (rows, n, k, dtype) every method is timed through the same
`gpuconv._algorithms.execute` call ``auto`` makes (``'same'`` output, zero
boundary), and the regret of a case is ``time[auto's method] / min(times)``:
1.0 when ``auto`` picked the fastest. Times are the fastest of a few runs
(on a shared machine other work only adds time), the methods called in
turns of two runs (`fastest_in_turns`) so that a slow spell of the machine
falls on all of them alike. The goal is a median of 1.0 and a worst case
under 1.3. A method far slower than ``auto``'s choice is timed on a
sixteenth of the batch and scaled, never in full; ``auto``'s own choice is
always timed in full.
"""

from __future__ import annotations

import functools
import statistics
from dataclasses import dataclass, field

import numpy as np

from .timing import fastest_in_turns, fastest_seconds

METHODS = ("direct", "fft", "oa")

#: (rows, n) shapes and kernel lengths of the full grid: one long signal,
#: batches of medium rows, many short rows; kernels from 3 to 4095 taps.
GRID_SHAPES = [(1, 2**10), (1, 2**14), (1, 2**18), (1, 2**21), (16, 2**12), (16, 2**16),
               (64, 2**14), (1024, 256)]
GRID_TAPS = [3, 7, 15, 31, 63, 127, 255, 511, 1023, 4095]
GRID_DTYPES = ["float32", "float64"]

QUICK_SHAPES = [(4, 4096), (1, 65536)]
QUICK_TAPS = [3, 31, 255, 1023]
QUICK_DTYPES = ["float32"]

#: Goals of the CPU-performance issue.
MEDIAN_GOAL = 1.0
WORST_GOAL = 1.3
#: A method whose probe takes this many times ``auto``'s choice is not timed in full.
HOPELESS = 8.0
#: Seconds each method is warmed up before it is timed: twice what the first
#: ten or so parallel calls of a fresh process take under load, about 8 ms
#: each (docs/performance.md, "Auto regret").
WARMUP_SECONDS = 0.2


@dataclass(frozen=True)
class Case:
    """One point of the grid."""

    rows: int
    n: int
    k: int
    dtype: str

    def request(self):
        from .._plan import Request

        return Request(rows=self.rows, n=self.n, k=self.k, kernel_rows=1,
                       start=(self.k - 1) // 2, out_len=self.n)

    def inputs(self, seed: int = 0) -> tuple:
        """Random ``(x, w)``: ``rows`` signals and one kernel row."""
        rng = np.random.default_rng(seed)
        return (rng.standard_normal((self.rows, self.n)).astype(self.dtype),
                rng.standard_normal((1, self.k)).astype(self.dtype))

    def calls(self, backend, x, w, request=None) -> dict:
        """``{method: call}`` of every method of `METHODS` on ``x`` and ``w``,
        through the `execute` call ``auto`` makes (for `request`, or a part
        of the batch's own)."""
        from .._algorithms import execute

        request, dtype = request or self.request(), np.dtype(self.dtype)
        return {method: functools.partial(execute, backend, x, w, request, method, dtype)
                for method in METHODS}

    def __str__(self) -> str:
        return f"{self.rows} × {self.n} {self.dtype}, K={self.k}"


@dataclass
class Measured:
    """Times of each method on one case, and what ``auto`` chose.

    ``estimated`` names the methods timed on part of the batch only.

    >>> m = Measured(Case(1, 4096, 15, "float32"), {"direct": 2.0, "fft": 1.0, "oa": 1.5}, "oa")
    >>> m.best, m.regret
    ('fft', 1.5)
    """

    case: Case
    times: dict
    chosen: str
    estimated: tuple = field(default=())

    @property
    def best(self) -> str:
        return min(self.times, key=self.times.get)

    @property
    def regret(self) -> float:
        return self.times[self.chosen] / self.times[self.best]


def grid(quick: bool = False) -> list[Case]:
    """The cases of the full (or ``--quick``) grid; kernels no longer than the signal.

    >>> len(grid(quick=True))
    8
    """
    shapes, taps, dtypes = ((QUICK_SHAPES, QUICK_TAPS, QUICK_DTYPES) if quick
                            else (GRID_SHAPES, GRID_TAPS, GRID_DTYPES))
    return [Case(rows, n, k, dtype) for dtype in dtypes for rows, n in shapes
            for k in taps if k <= n]


def measure_case(case: Case, backend, *, repeats: int = 5, budget: float = 1.0,
                 seed: int = 0) -> Measured:
    """Time every method on ``case``, in turns (``auto``'s choice always in full)."""
    from .._algorithms.choose import choose_method

    x, w = case.inputs(seed)
    chosen = choose_method(backend, case.request(), case.dtype)
    calls = case.calls(backend, x, w)
    times = {}
    if case.rows * case.n >= 2**16:
        # Probe the others on a sixteenth of the data: a hopeless method is not timed in full.
        reference = fastest_seconds(calls[chosen], repeats=1)
        (part_x, part_request), scale = _part(x, case)
        probes = case.calls(backend, part_x, w, part_request)
        for method in (m for m in METHODS if m != chosen):
            seconds = fastest_seconds(probes[method], repeats=1) * scale
            if seconds > HOPELESS * reference:
                times[method] = seconds
    estimated = tuple(times)
    times |= fastest_in_turns({m: call for m, call in calls.items() if m not in estimated},
                              repeats=repeats, budget=budget, warmup=WARMUP_SECONDS,
                              runs_per_turn=2)
    return Measured(case, times, chosen, estimated)


def _part(x, case: Case):
    """A sixteenth of the batch with its request, and the scale back to the whole."""
    from dataclasses import replace

    if case.rows >= 16:
        rows = case.rows // 16
        return (x[:rows], replace(case.request(), rows=rows)), case.rows / rows
    n = max(case.n // 16, case.k)
    part = Case(case.rows, n, case.k, case.dtype)
    return (np.ascontiguousarray(x[:, :n]), part.request()), case.n / n


def summarize(measured: list[Measured]) -> dict:
    """Median and worst regret, the worst case, and how many cases ``auto`` got right.

    >>> cases = [Measured(Case(1, 64, 3, "float32"), {"direct": 1.0, "fft": 2.0, "oa": 3.0}, c)
    ...          for c in ("direct", "direct", "fft")]
    >>> s = summarize(cases)
    >>> s["median"], s["worst"], s["best_picked"], s["cases"]
    (1.0, 2.0, 2, 3)
    """
    if not measured:
        raise ValueError("no measured cases to summarize")
    regrets = [m.regret for m in measured]
    worst = max(measured, key=lambda m: m.regret)
    return {"median": statistics.median(regrets), "worst": worst.regret, "worst_case": worst,
            "best_picked": sum(m.chosen == m.best for m in measured), "cases": len(measured),
            "goals_met": statistics.median(regrets) <= MEDIAN_GOAL and worst.regret < WORST_GOAL}


def markdown(measured: list[Measured], *, show: int = 10) -> str:
    """The regret summary and the ``show`` worst cases as Markdown."""
    from .suite import format_seconds

    summary = summarize(measured)
    lines = ["### Auto regret", "",
             f"{summary['cases']} cases; `auto` picked the fastest method in "
             f"{summary['best_picked']}. Regret (time of auto's choice / time of the best of "
             f"direct, fft, oa): median {summary['median']:.2f}, worst {summary['worst']:.2f} "
             f"({summary['worst_case'].case}); goals: median {MEDIAN_GOAL:.1f}, worst < "
             f"{WORST_GOAL:.1f} — {'met' if summary['goals_met'] else 'NOT met'}.", "",
             "| case | auto | best | direct | fft | oa | regret |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for m in sorted(measured, key=lambda m: m.regret, reverse=True)[:show]:
        cells = [("~" if method in m.estimated else "") + format_seconds(m.times[method])
                 for method in METHODS]
        lines.append(f"| {m.case} | {m.chosen} | {m.best} | {' | '.join(cells)} | "
                     f"{m.regret:.2f} |")
    lines += ["", f"The {min(show, len(measured))} worst cases; `~`: estimated from a "
              "sixteenth of the batch (far slower than the best, never auto's choice)."]
    return "\n".join(lines)
