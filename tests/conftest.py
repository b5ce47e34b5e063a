"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: The workplace's shared data, next to the checkout. Users do not have it.
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared``; tests that need it skip, saying why, when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip(
            "../shared/data is absent: this test reads the raw third-party data, "
            "which only a developer's or CI's workspace has"
        )
    return SHARED
