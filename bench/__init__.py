"""Benchmarks for mimo2codex. Never imported by the package or by the unit tests; see bench/README.md."""
