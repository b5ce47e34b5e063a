"""Shared test fixtures."""

from __future__ import annotations

import os as _os

# Refused logins are answered late in service (login_refusal_delay_s); the
# tests send many on purpose, so they run without the wait, except the test
# of the wait itself (tests/api_tests/test_attacks.py). Subprocess servers
# inherit it.
_os.environ.setdefault("JUNKAI_LOGIN_REFUSAL_DELAY_S", "0")

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


@pytest.fixture
def slow_clock(monkeypatch):
    """The solvers' clocks slowed 50x (``time.perf_counter``, OR-Tools' time limit
    and its LNS sub-search limit): every search then stops on its work budget,
    never on the wall clock of a loaded machine, so equal inputs must give
    equal plans. For tests that compare two plans."""
    import time

    from google.protobuf import duration_pb2
    from ortools.constraint_solver import pywrapcp

    factor = 50
    real, from_ms = time.perf_counter, duration_pb2.Duration.FromMilliseconds
    defaults = pywrapcp.DefaultRoutingSearchParameters
    t0 = real()

    def slow_defaults():
        p = defaults()
        ns = (p.lns_time_limit.seconds * 10**9 + p.lns_time_limit.nanos) * factor
        p.lns_time_limit.seconds, p.lns_time_limit.nanos = divmod(ns, 10**9)
        return p

    monkeypatch.setattr(time, "perf_counter", lambda: t0 + (real() - t0) / factor)
    monkeypatch.setattr(
        duration_pb2.Duration, "FromMilliseconds", lambda self, ms: from_ms(self, int(ms) * factor)
    )
    monkeypatch.setattr(pywrapcp, "DefaultRoutingSearchParameters", slow_defaults)
