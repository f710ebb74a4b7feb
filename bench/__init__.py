"""Benchmarks, not tests: figures and how to reproduce them are in bench/README.md."""
