"""Harness of the observability tests: the compatibility suite's helpers (a mock OpenAI upstream, the
real agent and orchestrator binaries on fresh databases) loaded from tests/compat/conftest.py, and the
session fixtures the dashboard test needs."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

_spec = importlib.util.spec_from_file_location("compat_harness", REPO / "tests" / "compat" / "conftest.py")
harness = importlib.util.module_from_spec(_spec)
sys.modules["compat_harness"] = harness
_spec.loader.exec_module(harness)


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory):
    configured = os.environ.get("AXONFLOW_TEST_LOG_DIR")
    path = Path(configured) if configured else tmp_path_factory.mktemp("observability-logs")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def upstream():
    mock = harness.MockUpstream()
    yield mock
    mock.close()
