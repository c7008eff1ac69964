"""Benchmarks: scripts that print their numbers (see each module)."""
