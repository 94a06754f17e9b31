"""Every rejection is JSON ``{"error": reason}`` with a 4xx, logged without secrets or ticket text."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from .intake import Verdict, rejection
from .metrics import Metrics

log = logging.getLogger("webhooks")


def reject(status: int, reason: str, vendor: str = ""):
    """A JSON rejection; the log line carries path, status and reason only."""
    return answer(rejection(status, reason), vendor)


def answer(verdict: Verdict, vendor: str = "", m: Metrics | None = None) -> Response:
    """The HTTP response for an intake verdict: counted per vendor and outcome, 4xx/5xx logged.

    ``m``: the app's metrics when the caller already holds them (the receivers' hot path)."""
    from .runtime import metrics

    if verdict.status >= 400:
        log.warning("rejected %s %s: %d %s", vendor or "-", request.path, verdict.status, verdict.reason)
    if vendor:
        (m or metrics()).webhook_outcome(vendor, verdict.outcome).inc()
    return Response(verdict.body, verdict.status, content_type="application/json")


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        reason = {413: "body too large"}.get(exc.code or 500, (exc.name or "error").lower())
        # Keep the exception's own headers (e.g. `Allow` on 405) so clients learn what is allowed.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return jsonify(error=reason), exc.code, headers


class Rejection(Exception):
    """Raised by the receivers' ``verify``; becomes a JSON 4xx."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
