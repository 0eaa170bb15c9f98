"""64 concurrent clients against `verbalrl serve`: no errors, a bounded queue, flat memory."""

from __future__ import annotations

import pytest

from verbalrl.llm.server import serve_in_thread

from .server_load import load

pytestmark = pytest.mark.slow


def test_64_clients_get_answers_or_a_prompt_503_and_memory_stays_flat(tiny_llm) -> None:
    with serve_in_thread(tiny_llm, model_name="tiny", max_rows=16, max_queued=16) as srv:
        warm = load(srv.url, clients=64, seconds=4)  # first batches allocate their buffers
        report = load(srv.url, clients=64, seconds=8)
        queued_after = srv.engine.batcher._queued  # type: ignore[union-attr]
    for r in (warm, report):
        assert r.errors == [], r.errors[:5]
    assert report.ok > 64 and report.busy > 0  # served, and over the bound told to retry
    assert report.percentile(0.95) < 30  # answered or refused at once: nobody waits for a timeout
    assert queued_after == 0
    # memory after a second round of load is where the first left it (no per-request leak)
    assert report.rss_after_mb - warm.rss_after_mb < 64, (warm.summary(), report.summary())
