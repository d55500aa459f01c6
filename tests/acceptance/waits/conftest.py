"""The worker-process fixture of tests/acceptance/worker, for the waiting-step tests."""

from tests.acceptance.worker.conftest import start_worker  # noqa: F401 - a fixture
