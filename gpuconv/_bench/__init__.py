"""The benchmark suite behind ``gpuconv bench`` and the calibration behind ``gpuconv tune``.

It lives inside the package so both commands work from a wheel; the scripts
in the repository's ``benchmarks/`` folder are thin entry points to it. Never
imported by ``import gpuconv``: only the two commands load it.

Modules: `timing` (medians, CUDA events), `roofline` (copy bandwidth and FMA
rates measured in the same run), `workloads` (W1-W6 and their peers),
`suite` (runs them and writes the Markdown tables and the bar chart),
`regret` (``auto`` against the best method on a grid) and `calibrate` (the
cost-model constants of `gpuconv._algorithms.choose`).
"""
