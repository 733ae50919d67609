"""The pipeline stages and their runtime: ingest, worker, the consume loop, the scoring process,
Redis page state, and the composition root that wires them to clients."""
