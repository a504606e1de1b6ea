"""gpuconv's benchmark scripts (never run by the test suite).

The suite itself lives in the package (`gpuconv._bench`, behind ``gpuconv
bench`` and ``gpuconv tune``) so it works from a wheel; the scripts here are
thin entry points for a source checkout, plus workloads that need one.
"""
