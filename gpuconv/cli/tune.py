"""``gpuconv tune``: measure the CPU cost model's constants here and store them.

``auto`` picks direct, FFT or blocked FFT from seconds-per-unit constants
(`gpuconv._algorithms.choose`). The defaults were measured on the project's
machine class; this command measures them on this machine, with the current
thread count, and writes them as JSON to the user's cache directory
(``$GPUCONV_CACHE_DIR``, else ``$XDG_CACHE_HOME/gpuconv``, else
``~/.cache/gpuconv``), where every later process finds them.
"""

from __future__ import annotations

import json
import sys

HELP = "measure the cost-model constants of method='auto' on this machine and store them"


def add_arguments(parser) -> None:
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--show", action="store_true",
                        help="print the constants in use and where they come from; measure nothing")
    action.add_argument("--reset", action="store_true",
                        help="delete the stored constants (back to the built-in defaults)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer, smaller runs (a rough table in a few seconds)")
    parser.add_argument("--dry-run", action="store_true",
                        help="measure and print, but store nothing")


def format_costs(costs: dict) -> str:
    """The cost table as aligned text, one row per entry.

    >>> from gpuconv._algorithms.choose import DEFAULT_COSTS
    >>> print(format_costs(DEFAULT_COSTS).splitlines()[0])
    entry         float32    float64  complex64 complex128
    """
    from gpuconv._algorithms.choose import CALL_KEYS, COST_DTYPES, COST_KEYS

    lines = [f"{'entry':10s} " + " ".join(f"{name:>10s}" for name in COST_DTYPES)]
    for key in COST_KEYS:
        lines.append(f"{key:10s} " + " ".join(f"{costs[key][name]:10.3g}" for name in COST_DTYPES))
    lines.append("call       " + "  ".join(f"{name} {costs['call'][name]:.3g}" for name in CALL_KEYS))
    return "\n".join(lines)


def run(args) -> int:
    from gpuconv._algorithms import choose

    path = choose.costs_path()
    if args.show:
        costs, source = choose.costs_in_use()
        print(f"cost table in use: {source}")
        print(f"(gpuconv tune writes {path})")
        if source == str(path):
            document = json.loads(path.read_text(encoding="utf-8"))
            print(f"measured {document.get('created', '?')} on {document.get('machine', '?')} "
                  f"with {document.get('threads', '?')} threads")
        print("seconds per unit of work:")
        print(format_costs(costs))
        return 0
    if args.reset:
        if path.exists():
            path.unlink()
            print(f"removed {path}; auto uses the built-in defaults")
        else:
            print(f"nothing to remove: {path} does not exist")
        choose.forget_loaded_costs()
        return 0

    if not args.dry_run and path.parent.exists() and not path.parent.is_dir():
        raise ValueError(f"cannot store the cost table in {path.parent}: not a directory")
    from gpuconv._bench.calibrate import calibrate

    print("measuring (direct, fft, oa for each dtype) ...", file=sys.stderr, flush=True)
    document = calibrate(quick=args.quick,
                         log=lambda line: print(line, file=sys.stderr, flush=True))
    choose.validate_costs(document["costs"])
    print(format_costs(document["costs"]))
    worst = max(document["misfit"].items(), key=lambda item: item[1])
    print(f"worst relative misfit of a fit: {worst[1]:.2f} ({worst[0]})")
    if args.dry_run:
        print("dry run: nothing stored")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)  # readers never see half a file
    choose.forget_loaded_costs()
    print(f"stored {path}")
    return 0
