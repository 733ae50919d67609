"""Suite-wide test configuration.

Every test under ``tests/integration/`` is marked ``integration`` automatically, so
``pytest -m "not integration"`` runs the pure tests without touching any service, and a
test file there cannot forget its marker. The service fixtures live in
``tests/integration/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)
