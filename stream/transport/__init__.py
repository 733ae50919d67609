"""Kafka plumbing: one small consumer/producer protocol, two transports, and offset checkpoints."""
