"""Many processes share one memory through a `chroma run` server on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from verbalrl.memory import ChromaMemory, MemoryConfig

WRITERS, PER_WRITER = 4, 250

WRITER = textwrap.dedent("""
    import sys
    from verbalrl.memory import ChromaMemory, Experience, MemoryConfig
    port, writer, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    cfg = MemoryConfig(host="127.0.0.1", port=port, batch_size=25, embedder="hash:128")
    with ChromaMemory(config=cfg) as memory:
        records = [
            Experience(task=f"task{i % 3}",
                       problem=f"writer {writer} record {i}: compute {writer * 1000 + i} squared",
                       solution=str((writer * 1000 + i) ** 2),
                       outcome="success" if i % 2 else "failure",
                       verified=True, reflection=None if i % 2 else f"lesson {writer}-{i}")
            for i in range(n)
        ]
        ids = memory.add_experiences(records)
    print(len(set(ids)))
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        pytest.fail(f"the chroma CLI is missing next to {sys.executable}")
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [
            str(chroma),
            "run",
            "--path",
            str(tmp_path / "server-data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("chroma run did not start: " + (tmp_path / "server.log").read_text()[-2000:])
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.slow
def test_four_writer_processes_lose_nothing(chroma_server: int) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(chroma_server), str(w), str(PER_WRITER)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WRITERS)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        assert out.strip() == str(PER_WRITER)
    cfg = MemoryConfig(host="127.0.0.1", port=chroma_server, embedder="hash:128")
    with ChromaMemory(config=cfg) as memory:
        assert memory.count("experience") == WRITERS * PER_WRITER
        assert memory.count("reflection") == WRITERS * PER_WRITER // 2
        problems = {e.problem for e in memory.iter_records("experience")}  # type: ignore[union-attr]
        assert problems == {
            f"writer {w} record {i}: compute {w * 1000 + i} squared"
            for w in range(WRITERS)
            for i in range(PER_WRITER)
        }
        ctx = memory.recall("writer 2 record 7: compute 2007 squared", task="task1", k=1)
        assert ctx.exemplars[0].experience.solution == str(2007**2)
