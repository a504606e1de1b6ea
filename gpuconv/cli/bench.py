"""``gpuconv bench``: gpuconv against NumPy, SciPy, PyTorch (and CuPy) on the benchmark workloads.

Prints a Markdown table per workload (median, time relative to gpuconv's,
fraction of the roofline floor measured in the same run, relative error
against a float64 reference); ``--markdown`` writes them to a file and
``--plot`` a bar chart. ``--workloads regret`` times ``auto``'s choice
against the best method on a grid. BLAS variables are not unset here: run
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE gpuconv bench``.
"""

from __future__ import annotations

import sys

HELP = "time gpuconv against NumPy, SciPy, PyTorch (or CuPy) on the benchmark workloads"

#: Names ``--workloads`` accepts besides W1..W6.
EXTRA_WORKLOADS = ("regret", "dask")
DEFAULT_WORKLOADS = "W1,W2,W3,W4,W5,W6"
#: Seconds each call is warmed up before it is timed (``--quick``: 0.1). In a
#: young process the first page faults of large fresh arrays are slow: W1's
#: second to fifth gpuconv calls took 28-94 ms and the later ones 9-11 ms,
#: and one warm-up run left the first workload timed inside that phase
#: (docs/performance.md, "Warm-up").
WARMUP_SECONDS = 1.0


def add_arguments(parser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="small batches and fewer repeats (a CI smoke run, under a minute)")
    parser.add_argument("--workloads", default=DEFAULT_WORKLOADS, metavar="LIST",
                        help="comma-separated workloads: W1..W6, 'regret' (auto against the best "
                             "method on a grid), 'dask' (out-of-core, from a source checkout); "
                             f"default {DEFAULT_WORKLOADS} (W6 when gpuconv.nn exists)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where to run: the CPU (default) or the current CUDA device")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs per call after the warm-up (default 7, --quick 3)")
    parser.add_argument("--cap", type=float, default=None, metavar="SECONDS",
                        help="skip a peer whose call would take longer (default 3, --quick 0.5)")
    parser.add_argument("--markdown", metavar="PATH", help="also write the tables to PATH")
    parser.add_argument("--plot", metavar="PATH.png",
                        help="also draw a bar chart (needs matplotlib), e.g. docs/img/bench-cpu.png")


def selected_workloads(text: str) -> list[str]:
    """The workload names of ``--workloads``, checked, each once, in the order given.

    >>> selected_workloads("w1, W4,regret")
    ['W1', 'W4', 'regret']
    >>> selected_workloads("W1,w1,W2")  # one run, one table, per workload
    ['W1', 'W2']
    >>> selected_workloads("W9")
    Traceback (most recent call last):
    ...
    ValueError: --workloads: unknown workload 'W9'; choose from W1, W2, W3, W4, W5, W6, regret, dask
    """
    from gpuconv._bench.workloads import WORKLOADS

    known = {name.lower(): name for name in (*WORKLOADS, *EXTRA_WORKLOADS)}
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError("--workloads: name at least one workload")
    for name in names:
        if name.lower() not in known:
            raise ValueError(f"--workloads: unknown workload {name!r}; choose from "
                             f"{', '.join(known.values())}")
    return list(dict.fromkeys(known[name.lower()] for name in names))


def command_line(args) -> str:
    """The command that reproduces ``args`` (options left at their defaults omitted).

    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> command_line(parser.parse_args(["--quick", "--workloads", "W1"]))
    'gpuconv bench --quick --workloads W1'
    """
    parts = ["gpuconv bench"]
    if args.quick:
        parts.append("--quick")
    if args.workloads != DEFAULT_WORKLOADS:
        parts.append(f"--workloads {args.workloads}")
    if args.device != "cpu":
        parts.append(f"--device {args.device}")
    for option in ("repeats", "cap", "markdown", "plot"):
        if getattr(args, option) is not None:
            parts.append(f"--{option} {getattr(args, option)}")
    return " ".join(parts)


def run(args) -> int:
    from gpuconv._bench import regret, roofline, suite
    from gpuconv._bench.timing import keep_temporaries
    from gpuconv._bench.workloads import WORKLOADS, has_nn, workload

    from ._formats import check_later_output

    names = selected_workloads(args.workloads)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 7)
    if repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {repeats}")
    cap = args.cap if args.cap is not None else (0.5 if args.quick else 3.0)
    warmup = 0.1 if args.quick else WARMUP_SECONDS
    if not cap >= 0:
        raise ValueError(f"--cap must be a number of seconds >= 0, got {cap}")
    if args.markdown:
        check_later_output(args.markdown, "--markdown")
    if args.plot:
        check_later_output(args.plot, "--plot", ".png")
        if not any(name in WORKLOADS for name in names):
            raise ValueError("--plot draws the W1..W6 workloads, and none is selected")
        try:
            import matplotlib  # noqa: F401  (fail before the run, not after)
        except ImportError as error:
            raise RuntimeError("--plot needs matplotlib: pip install matplotlib "
                               "(or gpuconv[notebooks])") from error
    if args.device == "cuda":
        from gpuconv.backends import backend_named

        backend_named("cupy")  # RuntimeError with the registry's reason: exit 2
        if "regret" in names or "dask" in names:
            raise ValueError("--device cuda runs W1..W6 only; 'regret' and 'dask' are CPU workloads")

    warning = roofline.openblas_warning()
    if warning:
        print(warning, file=sys.stderr)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    import gpuconv

    log("measuring the machine (copy bandwidth, GEMM rates)")
    machine = (roofline.measure_cuda(quick=args.quick) if args.device == "cuda"
               else roofline.measure_cpu(gpuconv.config.threads, quick=args.quick))
    # Every call then meets the heap of a program that has freed a large
    # array, not one that depends on the calls timed before it.
    keep_temporaries()
    sections = [f"## `gpuconv bench` on the {'GPU' if args.device == 'cuda' else 'CPU'}",
                suite.header_markdown(machine, command_line(args), repeats, warning, warmup)]
    print("\n\n".join(sections), flush=True)
    outcomes = []
    for name in names:
        if name == "W6" and not has_nn():
            section = "### W6: skipped (gpuconv.nn is not importable here)"
        elif name == "regret":
            log("auto regret grid")
            measured = [regret.measure_case(case, gpuconv.get_backend(),
                                            repeats=min(repeats, 5))
                        for case in regret.grid(quick=args.quick)]
            section = regret.markdown(measured)
        elif name == "dask":
            section = _dask_section(args.quick)
        else:
            log(f"{name}:")
            outcome = suite.run_workload(workload(name, quick=args.quick), machine,
                                         repeats=repeats, cap=cap, warmup=warmup, log=log)
            outcomes.append(outcome)
            section = suite.outcome_markdown(outcome, machine)
        print("\n" + section, flush=True)
        sections.append(section)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write("\n\n".join(sections) + "\n")
    if args.plot and outcomes:
        suite.plot(outcomes, args.plot)
        log(f"wrote {args.plot}")
    return 0


def _dask_section(quick: bool) -> str:
    """The out-of-core workload of ``benchmarks/out_of_core.py`` (a source checkout only)."""
    import importlib

    try:
        module = importlib.import_module("benchmarks.out_of_core")
    except ImportError as error:
        return ("### dask: skipped (benchmarks/out_of_core.py is not importable: run from a "
                f"source checkout with the 'dask' extra; {error})")
    rows = module.measure(quick)
    if not rows:
        return "### dask: no rows"
    keys = list(rows[0])
    lines = ["### dask: out-of-core batch through gpuconv.dask", "",
             "| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    lines += ["| " + " | ".join(_cell(row.get(key)) for key in keys) + " |" for row in rows]
    if quick:  # Dask's task overhead outweighs a batch this small
        lines += ["", "With --quick the batch is 32 MiB, which fits in memory: this checks the "
                  "Dask path, and its throughput ratio says nothing of the out-of-core case "
                  "(the full workload's 2 GiB batch; docs/performance.md)."]
    return "\n".join(lines)


def _cell(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
