"""Benchmarks, not tests: figures and how to reproduce them are in bench/README.md."""

# A published password for loopback benchmark servers (Dovecot and fake); not a secret.
BENCH_PASSWORD = "bench-pass"
BENCH_USER = "user@example.com"
