"""gpuconv's benchmarks (never run by the test suite)."""
