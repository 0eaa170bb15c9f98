"""`verbalrl serve`: an OpenAI-compatible HTTP server in front of one local `LLM`.

Several processes (runner workers, notebooks, `OpenAILLM` clients) share one
loaded model instead of each loading its own. Endpoints: `GET /health`,
`GET /v1/models`, `POST /v1/completions`, `POST /v1/chat/completions`, with
OpenAI's request and response shapes (see `server_schema.py`, which also
explains that logprobs cover only the first generated token).

Built on the standard library's `ThreadingHTTPServer`: one thread per
connection, and a lock around every model call, because one model computes
one batch at a time. Errors are OpenAI-style JSON: 400 for bad input
(malformed JSON, invalid fields, prompt too long, logprobs from a model that
has none), 404 for unknown routes or models, 500 (logged, the server stays
up) for anything unexpected. Left out: streaming, batching requests of
different clients together, authentication (bind to loopback, the default).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import ValidationError

from ..errors import CapabilityError, ContextLengthError, VerbalRLError
from .base import LLM, Prompt
from .server_schema import (
    MAX_TOP_LOGPROBS,
    ChatRequest,
    CompletionRequest,
    chat_logprobs,
    completion_logprobs,
    envelope,
    error_body,
    usage,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
# An extra top-level field (clients ignore unknown fields) so a reader of the raw
# response is not misled into thinking every token has logprobs.
LOGPROBS_NOTE = {"logprobs_scope": "first generated token only"}


class HTTPError(Exception):
    """An error answer: status code plus OpenAI-style error body."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(message, type_, param, code)


class ModelServer(ThreadingHTTPServer):
    """The HTTP server; holds the model, its public name and the lock that serialises calls."""

    daemon_threads = True  # idle keep-alive connections must not block shutdown

    def __init__(self, address: tuple[str, int], llm: LLM, model_name: str) -> None:
        super().__init__(address, _Handler)
        self.llm = llm
        self.model_name = model_name
        self.lock = threading.Lock()
        self.created = int(time.time())

    @property
    def url(self) -> str:
        """Base URL for OpenAI clients, e.g. http://127.0.0.1:8000/v1."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"


def make_server(
    llm: LLM, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None
) -> ModelServer:
    """Bind a server for `llm` (port 0 picks a free port); call `serve_forever()` to run it."""
    try:
        return ModelServer((host, port), llm, model_name or llm.name)
    except OSError as err:
        raise VerbalRLError(
            f"cannot listen on {host}:{port} ({err}); is another server running there? "
            "Choose another port."
        ) from err


def serve(
    llm: LLM, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None
) -> None:
    """Serve `llm` until Ctrl-C or SIGTERM, then close the socket and return."""
    server = make_server(llm, host, port, model_name)
    previous = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (docker stop, process managers) stops as cleanly as Ctrl-C.
        previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    # The CLI prints its own banner; library callers can turn logging on to see this.
    logger.info("verbalrl serve: model %r at %s", server.model_name, server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("verbalrl serve: stopped", file=sys.stderr, flush=True)
    finally:
        server.server_close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextmanager
def serve_in_thread(
    llm: LLM, host: str = "127.0.0.1", port: int = 0, model_name: str | None = None
) -> Iterator[ModelServer]:
    """Run a server in a background thread for the `with` block (tests, notebooks).

    `server.url` is the base URL to give `OpenAILLM`; port 0 picks a free port.
    """
    server = make_server(llm, host, port, model_name)
    # A short poll interval makes shutdown() return quickly (it waits for one poll).
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="verbalrl-serve",
        daemon=True,
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# ---- endpoints ----------------------------------------------------------------


def _check_model(server: ModelServer, requested: str | None) -> None:
    # Like vLLM: a wrong name is a client misconfiguration worth reporting.
    if requested is not None and requested != server.model_name:
        raise HTTPError(
            404,
            f"The model `{requested}` does not exist; this server serves `{server.model_name}`",
            param="model",
            code="model_not_found",
        )


def _top_logprobs(server: ModelServer, prompts: list[Prompt]) -> list[list[tuple[str, float]]]:
    top = getattr(server.llm, "top_logprobs", None)
    if top is None:
        raise HTTPError(
            400,
            f"model `{server.model_name}` does not provide logprobs",
            param="logprobs",
            code="logprobs_not_supported",
        )
    try:
        with server.lock:
            return top(prompts, MAX_TOP_LOGPROBS)
    except CapabilityError as err:
        raise HTTPError(
            400,
            f"model `{server.model_name}` does not provide logprobs: {err}",
            param="logprobs",
            code="logprobs_not_supported",
        ) from err


def completions(server: ModelServer, body: Any) -> dict[str, Any]:
    """`POST /v1/completions`; choice `i * n + j` is sample j of prompt i, as in OpenAI."""
    req = CompletionRequest.model_validate(body)
    _check_model(server, req.model)
    prompts: list[Prompt] = list(req.prompts())
    config = req.config()
    # Logprobs first: a model without them fails before spending time on sampling.
    tops = _top_logprobs(server, prompts) if req.logprobs is not None else None
    with server.lock:
        rows = server.llm.generate(prompts, config)
    choices: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        for c in row:
            logprobs = None
            if tops is not None and req.logprobs is not None:
                logprobs = completion_logprobs(c.text, tops[i], req.logprobs)
            choices.append(
                {
                    "index": len(choices),
                    "text": c.text,
                    "logprobs": logprobs,
                    "finish_reason": c.finish_reason,
                }
            )
    return {
        **envelope("text_completion", server.model_name),
        "choices": choices,
        "usage": usage(rows),
        **(LOGPROBS_NOTE if tops is not None else {}),
    }


def chat_completions(server: ModelServer, body: Any) -> dict[str, Any]:
    """`POST /v1/chat/completions`."""
    req = ChatRequest.model_validate(body)
    _check_model(server, req.model)
    prompt = req.prompt()
    config = req.config()
    tops = _top_logprobs(server, [prompt]) if req.logprobs else None
    with server.lock:
        rows = server.llm.generate([prompt], config)
    choices: list[dict[str, Any]] = []
    for j, c in enumerate(rows[0]):
        logprobs = chat_logprobs(c.text, tops[0], req.top_logprobs or 0) if tops else None
        choices.append(
            {
                "index": j,
                "message": {"role": "assistant", "content": c.text},
                "logprobs": logprobs,
                "finish_reason": c.finish_reason,
            }
        )
    return {
        **envelope("chat.completion", server.model_name),
        "choices": choices,
        "usage": usage(rows),
        **(LOGPROBS_NOTE if tops is not None else {}),
    }


def models(server: ModelServer, body: Any) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": server.model_name,
                "object": "model",
                "created": server.created,
                "owned_by": "verbalrl",
            }
        ],
    }


def health(server: ModelServer, body: Any) -> dict[str, Any]:
    return {"status": "ok", "model": server.model_name}


Route = Callable[[ModelServer, Any], dict[str, Any]]
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/health"): health,
    ("GET", "/v1/models"): models,
    ("POST", "/v1/completions"): completions,
    ("POST", "/v1/chat/completions"): chat_completions,
}


# ---- HTTP plumbing ------------------------------------------------------------


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise HTTPError(400, f"malformed JSON body: {err}", code="invalid_json") from err


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"  # keep-alive: the openai client reuses connections
    timeout = 300  # seconds an idle keep-alive connection may hold its thread

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("%s " + format, self.address_string(), *args)

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            # Read the body before anything can fail: an unread body would be taken
            # for the next request on this keep-alive connection.
            raw = self._read_body() if method == "POST" else b""
            route = ROUTES.get((method, path))
            if route is None:
                known = any(p == path for _, p in ROUTES)
                status = 405 if known else 404
                raise HTTPError(status, f"no route {method} {path}", code="not_found")
            body = _parse_json(raw) if method == "POST" else None
            self._send(200, route(self.server, body))
        except HTTPError as err:
            self._send(err.status, err.body)
        except ValidationError as err:
            first = err.errors()[0]
            param = ".".join(str(p) for p in first["loc"]) or None
            self._send(
                400,
                error_body(
                    f"{param}: {first['msg']}" if param else first["msg"],
                    param=param,
                    code="invalid_value",
                ),
            )
        except ContextLengthError as err:
            param = "messages" if path == "/v1/chat/completions" else "prompt"
            self._send(400, error_body(str(err), param=param, code="context_length_exceeded"))
        except (CapabilityError, ValueError) as err:
            self._send(400, error_body(str(err)))
        except Exception as err:
            logger.exception("verbalrl serve: %s %s failed", method, path)
            # A model failure is rarely transient: tell the openai client not to retry it.
            self._send(
                500,
                error_body(f"internal error: {type(err).__name__}: {err}", type_="server_error"),
                retry=False,
            )

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self.close_connection = True  # the body cannot be skipped safely
            if length is not None and length.isdigit():
                raise HTTPError(413, f"body larger than {MAX_BODY_BYTES} bytes")
            raise HTTPError(411, "a JSON body with a Content-Length header is required")
        return self.rfile.read(int(length))

    def _send(self, status: int, payload: dict[str, Any], retry: bool | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if retry is not None:
            self.send_header("x-should-retry", "true" if retry else "false")
        self.end_headers()
        self.wfile.write(data)
