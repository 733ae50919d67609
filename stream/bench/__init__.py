"""Benchmarks of the whole pipeline (`addlink bench stream`); not imported by the runtime."""
