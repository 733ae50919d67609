"""The streaming side of addlink-stream: events, configuration, ingest, worker, CLI."""
