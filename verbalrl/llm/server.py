"""`verbalrl serve`: an OpenAI-compatible HTTP server in front of one local `LLM`.

Several processes (runner workers, notebooks, `OpenAILLM` and LangChain
`ChatOpenAI` clients, lm-evaluation-harness) share one loaded model instead
of each loading its own. Endpoints: `GET /health`, `GET /v1/models`,
`GET /v1/models/{id}`, `POST /v1/completions`, `POST /v1/chat/completions`
(both with `stream`, server-sent events in OpenAI's chunk format), and
vLLM's `POST /tokenize`, `POST /detokenize`, `GET /tokenizer_info`.
Requests and replies: `server_schema.py` and `server_replies.py`; what the
model can do (batching, per-token logprobs, `echo`, token-id prompts):
`server_engine.py`.

Built on the standard library's `ThreadingHTTPServer`: one thread per
connection; requests that arrive together are decoded in one batch by the
engine. Errors are OpenAI-style JSON: 400 for bad input (malformed JSON,
invalid fields, a prompt plus `max_tokens` beyond the context, a feature
the server or model does not provide, named), 404 for unknown routes or
models, 503 with `Retry-After` when the queue is full, 500 (logged, the
server stays up) for anything unexpected. A stream's client that goes away
cancels its rows. Left out: authentication (bind to loopback, the default).
"""

from __future__ import annotations

import json
import logging
import select
import signal
import socket
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
from .batcher import QueueFullError
from .server_engine import make_engine
from .server_replies import CONNECTION, Chat, Completions, Reply, Stream
from .server_schema import (
    ChatRequest,
    CompletionRequest,
    DetokenizeRequest,
    TokenizeRequest,
    error_body,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024


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
    """The HTTP server; holds the model, its public name and the engine that runs requests."""

    daemon_threads = True  # idle keep-alive connections must not block shutdown
    # The listen backlog (socketserver's default is 5): 64 clients connecting at once were reset.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], llm: LLM, model_name: str, **batching: Any) -> None:
        super().__init__(address, _Handler)
        self.llm = llm
        self.model_name = model_name
        self.engine = make_engine(llm, **batching)
        self.created = int(time.time())

    def server_close(self) -> None:
        super().server_close()
        engine = getattr(self, "engine", None)  # None when binding the port failed
        if engine is not None:
            engine.close()

    @property
    def url(self) -> str:
        """Base URL for OpenAI clients, e.g. http://127.0.0.1:8000/v1."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"


def make_server(
    llm: LLM, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None, **batching: Any
) -> ModelServer:
    """Bind a server for `llm` (port 0 picks a free port); call `serve_forever()` to run it.

    `batching` tunes the batching engine of a local transformers model: `max_rows` (rows
    decoded together), `window` (seconds to wait for more requests), `max_queued`.
    """
    try:
        return ModelServer((host, port), llm, model_name or llm.name, **batching)
    except OSError as err:
        raise VerbalRLError(
            f"cannot listen on {host}:{port} ({err}); is another server running there? "
            "Choose another port."
        ) from err


def serve(
    llm: LLM, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None, **batching: Any
) -> None:
    """Serve `llm` until Ctrl-C or SIGTERM, then close the socket and return."""
    server = make_server(llm, host, port, model_name, **batching)
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
    llm: LLM, host: str = "127.0.0.1", port: int = 0, model_name: str | None = None, **batching: Any
) -> Iterator[ModelServer]:
    """Run a server in a background thread for the `with` block (tests, notebooks).

    `server.url` is the base URL to give `OpenAILLM`; port 0 picks a free port.
    """
    server = make_server(llm, host, port, model_name, **batching)
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


def completions(server: ModelServer, body: Any) -> Reply:
    """`POST /v1/completions`; choice `i * n + j` is sample j of prompt i, as in OpenAI."""
    req = CompletionRequest.model_validate(body)
    _check_model(server, req.model)
    return Completions(server, req).reply()


def chat_completions(server: ModelServer, body: Any) -> Reply:
    """`POST /v1/chat/completions`."""
    req = ChatRequest.model_validate(body)
    _check_model(server, req.model)
    return Chat(server, req).reply()


def _model_card(server: ModelServer) -> dict[str, Any]:
    card: dict[str, Any] = {
        "id": server.model_name,
        "object": "model",
        "created": server.created,
        "owned_by": "verbalrl",
    }
    if server.engine.context_length is not None:
        card["max_model_len"] = server.engine.context_length
    return card


def models(server: ModelServer, body: Any) -> dict[str, Any]:
    return {"object": "list", "data": [_model_card(server)]}


def model(server: ModelServer, body: Any, name: str) -> dict[str, Any]:
    """`GET /v1/models/{id}`."""
    _check_model(server, name)
    return _model_card(server)


def tokenize(server: ModelServer, body: Any) -> dict[str, Any]:
    """`POST /tokenize` (vLLM's): the token ids of a prompt or of chat messages (template applied)."""
    req = TokenizeRequest.model_validate(body)
    _check_model(server, req.model)
    prompt: Prompt = req.prompt if req.prompt is not None else [m.as_message() for m in req.messages or []]
    tokens = server.engine.tokenize(prompt)
    if req.add_special_tokens and isinstance(prompt, str):
        bos = getattr(getattr(server.llm, "tokenizer", None), "bos_token_id", None)
        tokens = ([bos] if bos is not None else []) + tokens
    return {"tokens": tokens, "count": len(tokens), "max_model_len": server.engine.context_length}


def detokenize(server: ModelServer, body: Any) -> dict[str, Any]:
    """`POST /detokenize`: the text of token ids."""
    req = DetokenizeRequest.model_validate(body)
    _check_model(server, req.model)
    return {"prompt": server.engine.detokenize(req.tokens)}


def tokenizer_info(server: ModelServer, body: Any) -> dict[str, Any]:
    """`GET /tokenizer_info`: special tokens and chat template (lm-eval's remote tokenizer reads it)."""
    return server.engine.tokenizer_info()


def health(server: ModelServer, body: Any) -> dict[str, Any]:
    return {"status": "ok", "model": server.model_name}


def openapi_document(server: ModelServer, body: Any) -> dict[str, Any]:
    """`GET /openapi.json`: the server's OpenAPI description (`server_openapi.py`)."""
    from .server_openapi import openapi

    return openapi(server.model_name)


Route = Callable[[ModelServer, Any], Any]
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/health"): health,
    ("GET", "/v1/models"): models,
    ("POST", "/v1/completions"): completions,
    ("POST", "/v1/chat/completions"): chat_completions,
    ("POST", "/tokenize"): tokenize,
    ("POST", "/detokenize"): detokenize,
    ("GET", "/tokenizer_info"): tokenizer_info,
    ("GET", "/openapi.json"): openapi_document,
}


def _route(method: str, path: str) -> Route | None:
    if (method, path) in ROUTES:
        return ROUTES[(method, path)]
    if method == "GET" and path.startswith("/v1/models/") and len(path) > len("/v1/models/"):
        name = path.removeprefix("/v1/models/")
        return lambda server, body: model(server, body, name)
    return None


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
            route = _route(method, path)
            if route is None:
                known = any(p == path for _, p in ROUTES)
                status = 405 if known else 404
                raise HTTPError(status, f"no route {method} {path}", code="not_found")
            body = _parse_json(raw) if method == "POST" else None
            CONNECTION.gone = self._client_gone
            reply = route(self.server, body)
            if isinstance(reply, Stream):
                self._stream(reply)
            else:
                self._send(200, reply)
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
        except QueueFullError as err:
            self._send(503, error_body(str(err), type_="server_overloaded"), headers={"Retry-After": "1"})
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

    def _client_gone(self) -> bool:
        """Whether the client closed its connection (readable with nothing to read)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self.close_connection = True  # the body cannot be skipped safely
            if length is not None and length.isdigit():
                raise HTTPError(413, f"body larger than {MAX_BODY_BYTES} bytes")
            raise HTTPError(411, "a JSON body with a Content-Length header is required")
        return self.rfile.read(int(length))

    def _send(
        self,
        status: int,
        payload: dict[str, Any],
        retry: bool | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if retry is not None:
            self.send_header("x-should-retry", "true" if retry else "false")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        try:
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left before its answer: nothing to tell it

    def _stream(self, reply: Stream) -> None:
        """Server-sent events over chunked transfer encoding (the connection stays usable)."""
        self.send_response(200, "OK")
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            try:
                for chunk in reply.chunks:
                    self._event(json.dumps(chunk))
            except Exception as err:  # noqa: BLE001 - headers are sent: report in the stream
                logger.exception("verbalrl serve: stream failed")
                self._event(json.dumps(error_body(f"{type(err).__name__}: {err}", type_="server_error")))
            self._event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            reply.cancel()  # the client went away: free its rows
            self.close_connection = True

    def _event(self, data: str) -> None:
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(payload):X}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()
