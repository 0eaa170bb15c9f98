"""Load on `verbalrl serve`: many concurrent clients for a bounded time, latency and memory measured.

Each client thread sends completion requests back to back for `seconds`. A
503 must carry `Retry-After` (the queue is bounded: over the bound the
server says so at once instead of letting the client time out); the client
waits that long (at most 1 s) and goes on. Anything else than 200 or such a
503, and any request without an answer within `timeout`, is an error.
`tests/reliability/test_server_load.py` and `benchmarks/reliability.py` run it.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class LoadReport:
    clients: int
    seconds: float
    ok: int = 0
    busy: int = 0  # 503 with Retry-After
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ranked = sorted(self.latencies)
        return ranked[min(len(ranked) - 1, int(q * len(ranked)))]

    def summary(self) -> dict[str, float | int]:
        return {
            "clients": self.clients, "seconds": round(self.seconds, 1), "ok": self.ok, "busy_503": self.busy,
            "errors": len(self.errors), "p50_s": round(self.percentile(0.5), 3),
            "p95_s": round(self.percentile(0.95), 3),
            "mean_s": round(statistics.fmean(self.latencies), 3) if self.latencies else 0.0,
            "rss_before_mb": round(self.rss_before_mb, 1), "rss_after_mb": round(self.rss_after_mb, 1),
        }


def rss_mb(pid: str = "self") -> float:
    """Resident memory of a process in MiB (Linux)."""
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def load(url: str, clients: int = 64, seconds: float = 10.0, max_tokens: int = 16,
         timeout: float = 60.0, pid: str = "self") -> LoadReport:
    """Drive the server at `url` (…/v1) with `clients` threads for `seconds`; `pid` is the server's."""
    report = LoadReport(clients=clients, seconds=seconds, rss_before_mb=rss_mb(pid))
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        with httpx.Client(timeout=timeout) as http:
            n = 0
            while time.monotonic() < stop:
                body = {"prompt": f"Client {i} request {n}:", "max_tokens": max_tokens, "temperature": 0.8}
                n += 1
                start = time.perf_counter()
                try:
                    r = http.post(url + "/completions", json=body)
                except httpx.HTTPError as err:
                    with lock:
                        report.errors.append(f"no answer: {type(err).__name__}: {err}")
                    continue
                took = time.perf_counter() - start
                with lock:
                    if r.status_code == 200:
                        report.ok += 1
                        report.latencies.append(took)
                    elif r.status_code == 503 and r.headers.get("Retry-After"):
                        report.busy += 1
                    else:
                        report.errors.append(f"{r.status_code}: {r.text[:200]}")
                if r.status_code == 503:
                    time.sleep(min(1.0, float(r.headers.get("Retry-After") or 1)))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report.seconds = time.perf_counter() - start
    report.rss_after_mb = rss_mb(pid)
    return report
