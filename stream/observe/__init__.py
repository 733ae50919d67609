"""Observability: sensors and Prometheus metrics, /healthz, structured logs."""
