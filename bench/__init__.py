"""Benchmarks: a deterministic company-scale dataset and the timed scenarios (bench/README.md)."""
