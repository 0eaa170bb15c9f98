"""The OpenAPI description of `verbalrl serve` (`GET /openapi.json`), built from its request models.

Clients and tools read it: a property-based fuzzer (schemathesis) generates
requests from it (`tests/reliability/test_server_fuzz.py`). Request bodies
are the pydantic models of `server_schema.py`, so the description cannot
drift from what the server validates; every error is OpenAI's error shape.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .server_schema import ChatRequest, CompletionRequest, DetokenizeRequest, TokenizeRequest

REF = "#/components/schemas/{model}"
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}


def _body(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    ref = {"$ref": REF.format(model=model.__name__)}
    return {"required": True, "content": {"application/json": {"schema": ref}}}


def _responses(stream: bool = False) -> dict[str, Any]:
    ok: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if stream:
        ok["text/event-stream"] = {"schema": {"type": "string"}}
    error = {"content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}}
    return {
        "200": {"description": "OK", "content": ok},
        "400": {"description": "invalid request", **error},
        "404": {"description": "unknown model or route", **error},
        "503": {"description": "queue full: retry after the Retry-After header", **error},
    }


def openapi(model_name: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the server serving `model_name`."""
    schemas: dict[str, Any] = {"Error": ERROR}

    def post(model: type[BaseModel], summary: str, stream: bool = False) -> dict[str, Any]:
        body = _body(model, schemas)
        return {"post": {"summary": summary, "requestBody": body, "responses": _responses(stream)}}

    def get(summary: str) -> dict[str, Any]:
        return {"get": {"summary": summary, "responses": _responses()}}

    model_param = {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
    paths = {
        "/health": get("liveness and the model's name"),
        "/v1/models": get("the served model"),
        "/v1/models/{model}": {"get": {"summary": "one model by id", "parameters": [model_param],
                                       "responses": _responses()}},
        "/v1/completions": post(CompletionRequest, "text completions (stream with stream=true)", True),
        "/v1/chat/completions": post(ChatRequest, "chat completions (stream with stream=true)", True),
        "/tokenize": post(TokenizeRequest, "token ids of a prompt or of chat messages"),
        "/detokenize": post(DetokenizeRequest, "the text of token ids"),
        "/tokenizer_info": get("special tokens and chat template"),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": f"verbalrl serve ({model_name})", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
