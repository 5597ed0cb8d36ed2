"""Shared fixtures.  Reusable fixtures live in tests/fixtures/ and are registered here."""

pytest_plugins: list[str] = [
    "tests.fixtures.redmine",
    "tests.fixtures.sandbox",
    "tests.fixtures.jira_sandbox",
    "tests.fixtures.processes",
]
