"""Measure the CPU cost-model constants of `gpuconv._algorithms.choose` and print them.

Run with ``python -m benchmarks.calibrate [--quick]``. The same measurement as
``gpuconv tune --dry-run`` (`gpuconv._bench.calibrate`), printed as a
``DEFAULT_COSTS`` table to paste into ``gpuconv/_algorithms/choose.py`` when
the defaults for the project's machine class are refreshed. Run it on a quiet
machine; no BLAS call is timed.
"""

from __future__ import annotations

import json
import sys

from gpuconv._bench.calibrate import calibrate


def main() -> None:
    document = calibrate(quick="--quick" in sys.argv[1:],
                         log=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"# {document['machine']}, {document['threads']} threads, {document['created']}")
    print("# worst relative misfit of each fit: " + ", ".join(
        f"{name} {value:.2f}" for name, value in document["misfit"].items()))
    costs = {key: {name: float(f"{value:.2g}") for name, value in entry.items()}
             for key, entry in document["costs"].items()}
    print("DEFAULT_COSTS = {")
    for key, entry in costs.items():
        print(f"    {json.dumps(key)}: {json.dumps(entry)},")
    print("}")


if __name__ == "__main__":
    main()
