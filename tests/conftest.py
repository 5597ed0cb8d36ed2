"""Shared fixtures.  Reusable fixtures live in tests/fixtures/ and are registered here."""

pytest_plugins: list[str] = [
    "tests.fixtures.redmine",
    "tests.fixtures.sandbox",
    "tests.fixtures.jira_sandbox",
    "tests.fixtures.processes",
    "tests.fixtures.postgres",
]

# Hypothesis judges its own speed (the ``too_slow`` health check and a per-example deadline);
# on a shared two-core machine or a loaded CI runner those are timings, not outcomes, so the
# suite's profile turns both off.  Every property is still checked on as many examples as its
# test asks for.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("casavi-bridge", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("casavi-bridge")
