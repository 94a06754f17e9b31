"""``POST /v1/classify``: the Hugging Face text-classification contract over our pipeline.

The default answer is exactly what ``huggingface_hub``'s ``InferenceClient.text_classification``
expects: ``[[{"label", "score"}, …]]``, one inner list per input, best first. Our own fields come
only in the extended form (``?extended=1`` or ``X-Triage-Extended: 1``), an object that carries the
same nested list under ``predictions``. The pipeline redacts PII before any LLM call.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, current_app, request

from plugin.result import LabelScore, Result

from . import client_auth as auth
from .classify_contract import ContractError, details, parse_request, shape_scores
from .classify_openapi import openapi_document

log = logging.getLogger(__name__)
bp = Blueprint("classify_api", __name__)


@bp.after_request
def _cors(response: Response) -> Response:
    return auth.apply_cors(response)


@bp.errorhandler(auth.ClientError)
def _client_error(exc: auth.ClientError) -> Response:
    return auth.json_error(exc.status, exc.message, exc.headers)


def get_pipeline() -> Any:
    """The app's pipeline, built once from settings (tests and the demo may preset it)."""
    ext = current_app.extensions
    if "triage.pipeline" not in ext:
        from plugin.pipeline import Pipeline

        ext["triage.pipeline"] = Pipeline.from_settings(auth.settings())
    return ext["triage.pipeline"]


def _wants_extended() -> bool:
    flag = request.args.get("extended") or request.headers.get("X-Triage-Extended") or ""
    return flag.lower() in ("1", "true", "yes")


@bp.route("/v1/classify", methods=["POST", "OPTIONS"], provide_automatic_options=False)
def classify() -> Response:
    if request.method == "OPTIONS":  # CORS preflight; headers added by _cors
        return Response(status=204)
    s = auth.settings()
    # keys always; form tokens only where the admin opened the form (checked in authenticate);
    # no credential only with classify_require_key = false
    caller = auth.authenticate("classify", allow_key=True, allow_form=s.form_enabled,
                               allow_anonymous=not s.classify_require_key)
    try:
        req = parse_request(auth.read_json())
    except ContractError as exc:
        raise auth.ClientError(400, str(exc)) from None
    auth.check_rate(caller, cost=len(req.texts))
    pipeline = get_pipeline()
    results: list[Result] = []
    for text in req.texts:
        try:
            results.append(pipeline.classify(text))
        except Exception:  # noqa: BLE001 - one bad input must not leak a traceback to clients
            log.exception("classification failed")
            raise auth.ClientError(500, "classification failed; see the service log") from None
    predictions = [shape_scores(_ranking(r), req.function_to_apply, req.top_k) for r in results]
    body: Any = predictions
    if _wants_extended():
        body = {"predictions": predictions, "details": [details(r) for r in results]}
    resp = Response(json.dumps(body), status=200, mimetype="application/json")
    if results:
        resp.headers["X-Triage-Model-Version"] = results[0].model_version or "unknown"
    return resp


def _ranking(result: Result) -> list[LabelScore]:
    """The full ranking; a result without one still answers with its own label."""
    return result.ranking or [LabelScore(label=result.label, score=result.score)]


@bp.get("/v1/openapi.json")
def openapi() -> Response:
    doc = openapi_document(request.host_url.rstrip("/"), auth.settings())
    return Response(json.dumps(doc, indent=1), mimetype="application/json")
