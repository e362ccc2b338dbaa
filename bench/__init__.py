"""Benchmark of the reference workload RW-1 (``python -m bench.rw1``).

The package is a script plus small helpers, not a test: it measures figures that docs/benchmark.md
compares with the targets of issue 7, and keeps the last run's figures in ``bench/results/``.
"""
