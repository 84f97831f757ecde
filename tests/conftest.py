"""Shared fixtures (kept small): where the test PostgreSQL is, if any."""

from __future__ import annotations

import os

import pytest

POSTGRES_URL = os.environ.get("VAULT_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL URL tests may use (skips the test when VAULT_TEST_POSTGRES_URL is unset)."""
    if not POSTGRES_URL:
        pytest.skip("VAULT_TEST_POSTGRES_URL is not set")
    return POSTGRES_URL
