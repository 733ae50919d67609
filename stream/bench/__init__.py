"""Benchmarks of the whole pipeline (`addlink bench stream`, `addlink bench backfill`), of training and
of pathological pages; not imported by the runtime."""
