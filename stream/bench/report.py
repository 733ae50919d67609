"""How the pipeline benchmarks report: their figures as JSON or as text, with the environment they were
measured in (Python, cores, Kafka client, tags mode, commit)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stream.config import Settings


def environment(settings: Settings) -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parent, check=False).stdout.strip()
    except OSError:
        commit = ""
    import confluent_kafka

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "kafka_client": settings.kafka.client,
        "confluent_kafka": confluent_kafka.version()[0],
        "tags_mode": settings.tags_mode,
        "commit": commit,
    }


def print_figures(figures: dict[str, Any], *, as_json: bool, render: Callable[[dict[str, Any]], str]) -> None:
    """One JSON object (``--json``), else the benchmark's own text."""
    print(json.dumps(figures, indent=2, sort_keys=True) if as_json else render(figures))
