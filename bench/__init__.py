"""Benchmarks: `make bench` (python -m bench.run) prints JSON and writes bench/results/."""
