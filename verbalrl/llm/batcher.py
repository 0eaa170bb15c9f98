"""Batching concurrent requests: rows that arrive together are decoded in one batch.

`verbalrl serve` handles each connection in its own thread. Before this, a
lock serialised them: 8 clients took as long as 8 requests in a row. Now each
handler submits its rows (prompts x n) to a `Batcher`, whose one worker
thread waits for the first rows, then `window` seconds more for others to
arrive (or until `max_rows` are queued), and decodes them all in one call
of `decode(requests)` (`TransformersLLM.decode`: every row keeps its own
settings). A submission's future resolves when its batch ends; its rows
stream through their `on_text` callbacks meanwhile.

In scope: the queue, the window, a bound on queued rows (`QueueFullError`
beyond it: the server answers 503), and shutdown. Left out: adding rows to
a batch already decoding (continuous batching).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from ..errors import VerbalRLError
from .decode import Decoded, DecodeRequest

DecodeFn = Callable[[Sequence[DecodeRequest]], list[Decoded]]


class QueueFullError(VerbalRLError):
    """More rows are waiting than the batcher holds; try again later."""


class _Job:
    def __init__(self, requests: list[DecodeRequest]) -> None:
        self.requests = requests
        self.future: Future[list[Decoded]] = Future()


class Batcher:
    """One worker thread that decodes queued rows in batches of at most `max_rows`."""

    def __init__(
        self, decode: DecodeFn, *, max_rows: int = 32, window: float = 0.02, max_queued: int = 256
    ) -> None:
        if max_rows < 1 or window < 0 or max_queued < 1:
            raise ValueError("need max_rows >= 1, window >= 0 and max_queued >= 1")
        self._decode = decode
        self.max_rows = max_rows
        self.window = window
        self.max_queued = max_queued
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._queued = 0  # rows submitted and not yet taken into a batch
        self._lock = threading.Lock()
        self.batches = 0  # decode calls made, for tests and benchmarks
        self._thread = threading.Thread(target=self._run, name="verbalrl-batcher", daemon=True)
        self._thread.start()

    def submit(self, requests: Sequence[DecodeRequest]) -> Future[list[Decoded]]:
        """Queue rows; the future gives their results in order (or the decoding error)."""
        job = _Job(list(requests))
        if len(job.requests) > self.max_queued:  # could never be queued: the client must split it
            raise ValueError(
                f"a request of {len(job.requests)} rows (prompts x n) is more than this server queues "
                f"({self.max_queued}); send fewer prompts or samples per request"
            )
        with self._lock:
            if self._queued + len(job.requests) > self.max_queued:
                raise QueueFullError(
                    f"{self._queued} rows are already waiting (at most {self.max_queued}); retry shortly"
                )
            self._queued += len(job.requests)
        self._jobs.put(job)
        return job.future

    def close(self) -> None:
        """Stop the worker after the batch it is decoding; queued jobs fail."""
        self._jobs.put(None)
        self._thread.join(timeout=30)

    def _take(self) -> list[_Job] | None:
        first = self._jobs.get()
        if first is None:
            return None
        jobs, rows = [first], len(first.requests)
        deadline = time.monotonic() + self.window
        while rows < self.max_rows:
            left = deadline - time.monotonic()
            try:
                job = self._jobs.get(timeout=left) if left > 0 else self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._jobs.put(None)  # stop after this batch
                break
            jobs.append(job)
            rows += len(job.requests)
        with self._lock:
            self._queued -= rows
        return jobs

    def _run(self) -> None:
        while True:
            jobs = self._take()
            if jobs is None:
                break
            live = [j for j in jobs if j.future.set_running_or_notify_cancel()]
            requests = [r for j in live for r in j.requests]
            try:
                results = self._decode(requests) if requests else []
            except BaseException as err:  # noqa: BLE001 - every waiting handler must hear of it
                for job in live:
                    job.future.set_exception(err)
                continue
            self.batches += 1
            start = 0
            for job in live:
                job.future.set_result(results[start : start + len(job.requests)])
                start += len(job.requests)
        while not self._jobs.empty():  # closing: fail whatever is still queued
            left = self._jobs.get_nowait()
            if left is not None and left.future.set_running_or_notify_cancel():
                left.future.set_exception(VerbalRLError("the server is shutting down"))
