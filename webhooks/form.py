"""``GET /form``: the ticket form with live suggestions; ``POST /form/tickets``: create the ticket.

The page is always served (unless ``form_enabled = false``), but it carries a token only when the
admin opened the form to the public for the origin it is served to (``form_public_origins``):
a short-lived token bound to that origin (``plugin.formtoken``), because a public page cannot keep
an API key secret. With it the page calls ``/v1/classify?extended=1`` and ``/form/tickets``;
without it both need an API key (scope ``form`` for submitting). Submitting creates the ticket in
Zendesk with the category the user chose, tagged so the webhook path does not classify it again.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request

from plugin import formtoken
from plugin.exceptions import HelpdeskError, TriageError
from plugin.helpdesk.zendesk import ZendeskClient

from . import client_auth as auth
from .classify_api import get_pipeline

bp = Blueprint("form", __name__, template_folder="templates", static_folder="static/form",
               static_url_path="/form/static")

DEBOUNCE_MS = 1500  # pause in typing before we ask for a suggestion
MIN_CHARS = 20  # shorter texts carry too little signal to suggest anything
MAX_SUBJECT = 200


@bp.errorhandler(auth.ClientError)
def _client_error(exc: auth.ClientError) -> Response:
    return auth.json_error(exc.status, exc.message, exc.headers)


@bp.before_request
def _enabled() -> Response | None:
    if not auth.settings().form_enabled:
        return auth.json_error(404, "the ticket form is disabled (form_enabled = false)")
    if request.method == "OPTIONS":  # CORS preflight; headers added by _cors
        return Response(status=204)
    return None


@bp.after_request
def _cors(response: Response) -> Response:
    return auth.apply_cors(response, classify=False)


def _token() -> str | None:
    """A token for the listed origin this page or fetch is for; None while the form is not open."""
    origin = auth.form_origin()
    return formtoken.issue(auth.form_secret(), origin) if origin else None


@bp.get("/form")
def page() -> Response:
    taxonomy = get_pipeline().taxonomy  # the categories the classifier answers with, loaded once
    html = render_template("ticket_form.html", token=_token() or "", categories=taxonomy.categories,
                           debounce_ms=DEBOUNCE_MS, min_chars=MIN_CHARS)
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"  # the page embeds a token
    resp.headers["Content-Security-Policy"] = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                               "connect-src 'self'; frame-ancestors 'none'")
    return resp


@bp.route("/form/token", methods=["GET", "OPTIONS"], provide_automatic_options=False)
def token() -> Response:
    """A fresh token for a page left open longer than the token's lifetime."""
    fresh = _token()
    if fresh is None:
        raise auth.ClientError(403, "the ticket form is not open to the public from this origin "
                                    "(form_public_origins)")
    resp = jsonify(token=fresh, ttl_s=auth.settings().form_token_ttl_s)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/form/tickets", methods=["POST", "OPTIONS"], provide_automatic_options=False)
def submit() -> tuple[Response, int]:
    s = auth.settings()
    caller = auth.authenticate("form", allow_key=True, allow_form=True, allow_anonymous=False)
    auth.check_rate(caller)
    body = auth.read_json()
    if not isinstance(body, dict):
        raise auth.ClientError(400, "body must be a JSON object")
    description = body.get("description")
    subject = body.get("subject") or ""
    category = body.get("category")
    suggested = body.get("suggested")
    taxonomy = get_pipeline().taxonomy
    if not isinstance(description, str) or len(description.strip()) < MIN_CHARS:
        raise auth.ClientError(400, f"'description' must be at least {MIN_CHARS} characters")
    if not isinstance(subject, str) or len(subject) > MAX_SUBJECT:
        raise auth.ClientError(400, f"'subject' must be a string of at most {MAX_SUBJECT} characters")
    if category not in taxonomy.names:
        raise auth.ClientError(400, f"'category' must be one of {', '.join(taxonomy.names)}")
    tags = [f"{s.tag_prefix}{category}", s.guard_tag]
    if suggested is not None and suggested != category:
        tags.append(f"{s.tag_prefix}user_override")
    ticket = {"subject": subject.strip() or description.strip()[:60], "comment": {"body": description},
              "tags": tags}
    try:
        client = ZendeskClient.from_settings(s)
        created = client.http.request("POST", "/api/v2/tickets.json", json={"ticket": ticket})["ticket"]
    except TriageError as exc:
        status = 503 if not isinstance(exc, HelpdeskError) else 502
        raise auth.ClientError(status, f"could not create the ticket: {exc}") from None
    return jsonify(ticket_id=str(created["id"]), category=category, tags=tags), 201
