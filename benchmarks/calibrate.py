"""Measure the CPU cost-model constants of `gpuconv._algorithms.choose` and print them.

Run with ``python -m benchmarks.calibrate [--quick] [--runs N]``. The same
measurement as ``gpuconv tune --dry-run`` (`gpuconv._bench.calibrate`), N
times (default 1), printed as a ``DEFAULT_COSTS`` table of the middle value
of each entry to paste into ``gpuconv/_algorithms/choose.py`` when the
defaults for the project's machine class are refreshed. Run it on a quiet
machine; no BLAS call is timed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from gpuconv._bench.calibrate import calibrate


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.calibrate")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    documents = [calibrate(quick=args.quick,
                           log=lambda line: print(line, file=sys.stderr, flush=True))
                 for _ in range(args.runs)]
    for document in documents:
        print(f"# {document['machine']}, {document['threads']} threads, {document['created']}")
        print("# worst relative misfit of each fit: " + ", ".join(
            f"{name} {value:.2f}" for name, value in document["misfit"].items()))
    costs = {key: {name: float(f"{statistics.median(d['costs'][key][name] for d in documents):.2g}")
                   for name in entry}
             for key, entry in documents[0]["costs"].items()}
    print("DEFAULT_COSTS = {")
    for key, entry in costs.items():
        print(f"    {json.dumps(key)}: {json.dumps(entry)},")
    print("}")


if __name__ == "__main__":
    main()
