"""Shared fixtures.  Reusable fixtures live in tests/fixtures/ and are registered here."""

pytest_plugins: list[str] = []
