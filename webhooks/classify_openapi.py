"""The OpenAPI 3.1 document for ``/v1/classify``, built from the live settings and taxonomy.

Built, not hand-written JSON, so the label enum, the auth requirement and the limits always match
what the running service enforces (schemathesis checks the service against this document).
"""

from __future__ import annotations

from typing import Any

from plugin import __version__
from plugin.config import Settings
from plugin.taxonomy import taxonomy_names

from .classify_contract import FUNCTIONS, MAX_INPUTS


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description,
                           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if headers:
        out["headers"] = headers
    return out


def _auth_description(settings: Settings) -> str:
    text = "API key of scope classify from `triage keys create`."
    if settings.form_public_origins:
        text += (" The ticket form's token is also accepted, with an Origin header of: "
                 + ", ".join(settings.form_public_origins) + ".")
    return text


def openapi_document(server_url: str, settings: Settings) -> dict[str, Any]:
    """The document; ``server_url`` is where this service was reached."""
    text = {"type": "string",
            "description": "Ticket text (PII is redacted server-side before any LLM call)."}
    security: list[dict[str, list]] = [{"bearerAuth": []}]
    if not settings.classify_require_key:
        security.append({})
    prediction = {"type": "object", "required": ["label", "score"], "properties": {
        "label": {"type": "string", "enum": list(taxonomy_names(settings.taxonomy))},
        "score": {"type": "number"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "helpdesk-triage classify API", "version": __version__,
                 "description": "Hugging Face Inference text-classification contract. Point "
                                "huggingface_hub's InferenceClient(base_url=<server>/v1/classify) at it."},
        "servers": [{"url": server_url}],
        "paths": {"/v1/classify": {"post": {
            "operationId": "classify",
            "summary": "Classify one ticket text or a batch",
            "security": security,
            "parameters": [{"name": "extended", "in": "query", "required": False,
                            "description": "1/true/yes: answer with the extended object instead of the bare list",
                            "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["inputs"], "properties": {
                    "inputs": {"oneOf": [text, {"type": "array", "items": text, "minItems": 1,
                                                "maxItems": MAX_INPUTS}]},
                    "parameters": {"type": ["object", "null"], "properties": {
                        "top_k": {"type": ["integer", "null"], "minimum": 1},
                        "function_to_apply": {"oneOf": [{"type": "string", "enum": list(FUNCTIONS)},
                                                        {"type": "null"}]}}}}}}}},
            "responses": {
                "200": {"description": "One list of predictions per input, best first (HF shape); "
                                       "with ?extended=1 an object with predictions and details.",
                        "content": {"application/json": {"schema": {"oneOf": [
                            {"$ref": "#/components/schemas/Predictions"},
                            {"$ref": "#/components/schemas/Extended"}]}}}},
                "400": _error("The body does not follow the contract."),
                "401": _error("Missing, malformed, invalid or revoked key or form token."),
                "403": _error("The key or token is not allowed on this endpoint, or a form token came "
                              "without the Origin it was issued for."),
                "413": _error(f"Body larger than {settings.max_body_bytes} bytes."),
                "429": _error("Rate limit exceeded.", {"Retry-After": {
                    "description": "Seconds to wait", "schema": {"type": "integer"}}}),
                "500": _error("Classification failed."),
            }}}},
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": _auth_description(settings)}},
            "schemas": {
                "Prediction": prediction,
                "Predictions": {"type": "array", "items": {"type": "array", "items": {
                    "$ref": "#/components/schemas/Prediction"}}},
                "Extended": {"type": "object", "required": ["predictions", "details"], "properties": {
                    "predictions": {"$ref": "#/components/schemas/Predictions"},
                    "details": {"type": "array", "items": {"$ref": "#/components/schemas/Details"}}}},
                "Details": {"type": "object", "required": ["label", "score", "decision", "classifier"],
                            "properties": {
                                "label": {"type": "string"}, "score": {"type": "number"},
                                "decision": {"type": "string", "enum": ["auto_apply", "suggest", "needs_review"]},
                                "classifier": {"type": "string", "enum": ["llm", "fallback"]},
                                "score_source": {"type": "string"}, "model_version": {"type": "string"},
                                "pii_counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                                "truncated": {"type": "boolean"}, "latency_ms": {"type": "number"},
                                "reason": {"type": "string"}}},
                "Error": {"type": "object", "required": ["error"],
                          "properties": {"error": {"type": "string"}}},
            },
        },
    }
