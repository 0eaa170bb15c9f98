"""With the real all-MiniLM-L6-v2: ranking by meaning, and data surviving the process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from verbalrl.memory import ChromaMemory, Experience, MemoryConfig
from verbalrl.memory.embedding import SentenceTransformerEmbedder

PROBLEM = "A train travels 60 miles per hour for 3 hours. How far does it go?"
PARAPHRASE = "How many miles does a train cover in three hours at a speed of 60 mph?"
UNRELATED = "Sort the following words alphabetically: pear, apple, fig."


def test_paraphrase_ranks_above_unrelated_text(real_embedder: SentenceTransformerEmbedder) -> None:
    vecs = real_embedder.embed([PROBLEM, PARAPHRASE, UNRELATED])
    assert vecs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    sims = vecs @ vecs[0]
    assert sims[1] > sims[2] + 0.3


def test_recall_ranks_the_paraphrased_lesson_first(
    real_embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    with ChromaMemory(config=MemoryConfig(path=tmp_path / "m"), embedder=real_embedder) as memory:
        memory.add_experiences(
            [
                Experience(
                    task="math",
                    problem=PARAPHRASE,
                    solution="60 * 3 = 180 miles",
                    outcome="success",
                    verified=True,
                ),
                Experience(
                    task="math",
                    problem=UNRELATED,
                    solution="apple fig pear",
                    outcome="success",
                    verified=True,
                ),
                Experience(
                    task="math",
                    problem="What is the capital of Australia?",
                    solution="Canberra",
                    outcome="success",
                    verified=True,
                ),
            ]
        )
        ctx = memory.recall(PROBLEM, task="math", k=3)
    assert ctx.exemplars[0].experience.problem == PARAPHRASE
    assert ctx.exemplars[0].similarity > max(r.similarity for r in ctx.exemplars[1:]) + 0.3


WRITER = textwrap.dedent("""
    import sys
    from verbalrl.memory import ChromaMemory, Experience
    memory = ChromaMemory(sys.argv[1])  # default embedder: the real model, offline
    memory.add_experiences([
        Experience(task="math", problem=sys.argv[2], solution="60 * 3 = 180 miles",
                   outcome="success", verified=True, checker_confirmed=True),
        Experience(task="math", problem="What is 15% of 80?", solution="8", outcome="failure",
                   reflection="15% of 80 is 0.15 * 80 = 12; do not divide by 10."),
    ])
    print(memory.count())
    # No close(): the process just exits; what it wrote must be on disk.
""")


def test_data_survives_the_process_and_a_new_one_reads_it(
    real_embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "persist"
    out = subprocess.run(
        [sys.executable, "-c", WRITER, str(folder), PARAPHRASE],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "2"
    with ChromaMemory(folder, embedder=real_embedder) as memory:
        assert memory.count() == 2 and memory.count("reflection") == 1
        ctx = memory.recall(PROBLEM, task="math", k=1)
        assert ctx.exemplars[0].experience.solution == "60 * 3 = 180 miles"
        assert ctx.exemplars[0].experience.checker_confirmed is True
        lesson = memory.recall("What is 15 percent of 80?", task="math", k=1)
        assert "0.15 * 80" in lesson.failures[0].experience.reflection  # type: ignore[operator]


def test_any_sentence_transformers_path_or_callable_plugs_in(
    real_embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    from verbalrl.memory.embedding import default_model_dir

    by_path = SentenceTransformerEmbedder(default_model_dir())
    np.testing.assert_allclose(by_path.embed([PROBLEM]), real_embedder.embed([PROBLEM]), atol=1e-5)

    def encode(texts: list[str]) -> np.ndarray:
        return real_embedder.embed(texts) * 3.0  # not unit length: the store normalises

    with ChromaMemory(tmp_path / "c", embedder=encode) as memory:
        assert memory.embedder.dim == 384 and memory.embedder.name.startswith("callable:")
        memory.add_experience(
            Experience(task="m", problem=PARAPHRASE, solution="180", outcome="success", verified=True)
        )
        memory.add_experience(
            Experience(task="m", problem=UNRELATED, solution="x", outcome="success", verified=True)
        )
        assert memory.recall(PROBLEM, task="m", k=1).exemplars[0].experience.solution == "180"


def test_embedding_cache_returns_the_same_vectors_and_skips_the_model(
    real_embedder: SentenceTransformerEmbedder,
) -> None:
    texts = ["What is 17 + 25?", "Plan: add the ones first.", "What is 17 + 25?"]
    first = real_embedder.embed(texts)
    model = real_embedder._model
    calls: list[list[str]] = []
    real_encode = model.encode

    def counting(batch: list[str], **kwargs: object) -> object:
        calls.append(list(batch))
        return real_encode(batch, **kwargs)

    model.encode = counting
    try:
        again = real_embedder.embed(["Plan: add the ones first.", "What is 17 + 25?", "A new text."])
    finally:
        model.encode = real_encode
    assert calls == [["A new text."]]  # only the unseen text reaches the model
    np.testing.assert_allclose(again[0], first[1], atol=1e-6)
    np.testing.assert_allclose(again[1], first[0], atol=1e-6)
    np.testing.assert_allclose(first[0], first[2], atol=1e-6)
    assert again.dtype == np.float32 and np.allclose(np.linalg.norm(again, axis=1), 1.0, atol=1e-5)
    uncached = SentenceTransformerEmbedder(cache_size=0)
    np.testing.assert_allclose(uncached.embed(["A new text."])[0], again[2], atol=1e-5)
