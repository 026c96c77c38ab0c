"""Benchmarks that measure the service on the real corpus (not part of the test suite)."""
