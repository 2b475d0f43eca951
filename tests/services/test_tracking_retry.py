"""Tracker._call against a tracking server that refused the connection (stopped or restarting): tried again a
bounded number of times, then one TrackingError naming the server; a local SQLite store is not retried; other
errors are not retried. No service needed: MLflow's own error for a closed port is checked too."""

from __future__ import annotations

import socket

import pytest

import bench.run.tracking as tracking
from bench.errors import TrackingError
from bench.run.tracking import Tracker


class _Flaky:
    def __init__(self, fails: int, message: str = "API request to http://h/api failed: Connection refused") -> None:
        self.fails, self.message, self.calls = fails, message, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.fails:
            raise RuntimeError(self.message)
        return "logged"


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch):
    monkeypatch.setattr(tracking, "SERVER_RETRY_SECONDS", 0.0)


def test_a_refused_call_to_a_server_is_tried_again(tmp_path):
    tracker = Tracker(tmp_path, "http://127.0.0.1:5000")
    flaky = _Flaky(fails=2)
    assert tracker._call("log metrics", flaky) == "logged" and flaky.calls == 3


def test_retries_are_bounded_and_end_in_one_error_naming_the_server(tmp_path):
    tracker = Tracker(tmp_path, "http://127.0.0.1:5000")
    flaky = _Flaky(fails=100)
    with pytest.raises(TrackingError, match=r"tracking store http://127.0.0.1:5000: log metrics failed"):
        tracker._call("log metrics", flaky)
    assert flaky.calls == tracking.SERVER_RETRIES + 1


@pytest.mark.parametrize("uri, message", [(None, "Connection refused"), ("http://127.0.0.1:5000", "bad request")])
def test_a_local_store_or_another_error_is_not_retried(tmp_path, uri, message):
    flaky = _Flaky(fails=1, message=message)
    with pytest.raises(TrackingError):
        Tracker(tmp_path, uri)._call("log metrics", flaky)
    assert flaky.calls == 1


def test_mlflows_error_for_a_closed_port_is_recognised_as_refused(monkeypatch):
    from mlflow.tracking import MlflowClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(Exception) as caught:
        MlflowClient(tracking_uri=f"http://127.0.0.1:{port}").set_tag("0" * 32, "k", "v")
    assert tracking._refused(caught.value)
