"""Shared fixtures: the real .NET runtime loaded once into the pytest process."""

from __future__ import annotations

import pytest

from krtasks.runtime import RuntimeInfo, load_runtime


@pytest.fixture(scope="session")
def runtime() -> RuntimeInfo:
    return load_runtime()
