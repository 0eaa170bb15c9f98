"""`verbalrl serve` under a property-based HTTP fuzzer: no 5xx, no hang, every 4xx an OpenAI error."""

from __future__ import annotations

import httpx
import pytest

from verbalrl.llm.fake import FakeLLM
from verbalrl.llm.server import serve_in_thread

from .server_fuzz import fuzz

pytest.importorskip("schemathesis")
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("engine", ["batched", "protocol"])
def test_fuzzing_finds_no_server_error_and_the_server_stays_up(engine: str, tiny_llm) -> None:
    llm = tiny_llm if engine == "batched" else FakeLLM(["hello world"], probs={"Yes": 0.5})
    with serve_in_thread(llm, model_name="tiny", max_queued=64) as srv:
        base = srv.url.removesuffix("/v1")
        report = fuzz(base, examples=20)
        assert report.findings == [], report.findings[:5]
        assert report.requests >= 100 and report.server_errors == 0
        assert {200, 400} <= set(report.by_status)  # valid and invalid requests were both generated
        # and it still answers a normal request
        ok = httpx.post(srv.url + "/chat/completions", timeout=30,
                        json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
        assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["role"] == "assistant"
