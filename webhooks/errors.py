"""Every rejection is JSON ``{"error": reason}`` with a 4xx, logged without secrets or ticket text."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("webhooks")


def reject(status: int, reason: str, vendor: str = ""):
    """A JSON rejection; the log line carries path, status and reason only."""
    log.warning("rejected %s %s: %d %s", vendor or "-", request.path, status, reason)
    from .runtime import metrics

    if vendor:
        metrics().webhook_outcome(vendor, f"rejected_{status}").inc()
    return jsonify(error=reason), status


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        reason = {413: "body too large"}.get(exc.code or 500, (exc.name or "error").lower())
        # Keep the exception's own headers (e.g. `Allow` on 405) so clients learn what is allowed.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return jsonify(error=reason), exc.code, headers


class Rejection(Exception):
    """Raised by ``verify_and_parse``; becomes a JSON 4xx."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
