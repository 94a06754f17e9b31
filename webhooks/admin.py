"""``/admin``: the dashboard for the people who run triage, behind an admin API key; never public.

Credential: an API key of scope ``admin`` (``triage keys create NAME --scope admin``), sent as
``Authorization: Bearer …`` (scripts, ``/admin/data.json``) or pasted once into the login form,
which sets a signed session cookie (``HttpOnly``, ``SameSite=Strict``, ``Path=/admin``, ``Secure``
over HTTPS) naming the key, re-checked on every request so a revoked key logs its sessions out.
A fresh instance has no admin key, so nothing here opens.

Not usable cross-site: no CORS headers ever (a foreign page cannot read an answer or send the
header), the cookie is never sent on cross-site requests, the login form refuses a foreign
``Origin``, and every answer carries a strict CSP (no script at all: charts are server-side SVG,
styles from this package), ``frame-ancestors 'none'`` and ``Cache-Control: no-store``.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from plugin.dashboard import dashboard_data
from plugin.monitoring import parse_since
from plugin.origins import origin_or_none
from plugin.ratelimit import RateLimiter
from plugin.report import histogram_svg, rates_svg, timeline_svg

from . import client_auth as auth
from .runtime import get_store

bp = Blueprint("admin", __name__, template_folder="templates", static_folder="static/admin",
               static_url_path="/admin/static")

COOKIE = "triage_admin"
SESSION_S = 8 * 3600  # a login lasts a working day
LOGIN_PER_MINUTE = 10  # login attempts per client address
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(auth.form_secret(), salt="triage-admin-session")


def _login_limiter() -> RateLimiter:
    return auth.admin_login_limiter(LOGIN_PER_MINUTE)


def _admin_key_id() -> str | None:
    """The admin key behind this request (header or session cookie), or None."""
    if request.headers.get("Authorization"):
        try:
            caller = auth.authenticate("admin", allow_key=True, allow_form=False, allow_anonymous=False)
        except auth.ClientError:
            return None
        return caller.bucket.removeprefix("key:")
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    try:
        key_id = _signer().loads(cookie, max_age=SESSION_S)
    except BadSignature:
        return None
    active = {k.key_id for k in auth.key_store().list() if k.active and k.scope == "admin"}
    return key_id if key_id in active else None


def _login_page(status: int, error: str = "") -> Response:
    return Response(render_template("admin_login.html", error=error), status=status, mimetype="text/html")


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"  # "no-referrer" makes our own form post "Origin: null"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/admin")
def page() -> Response:
    if _admin_key_id() is None:
        return _login_page(401)
    try:
        since_s = parse_since(request.args.get("since", "")) if request.args.get("since") else None
    except ValueError:
        since_s = None
    data = dashboard_data(auth.settings(), get_store(), since_s=since_s)
    charts = {"timeline": timeline_svg(data["timeline"]),
              "histogram": histogram_svg(data["histogram"], data["thresholds"]),
              "agreement": rates_svg(data["agreement"]["per_category"])}
    return Response(render_template("admin.html", d=data, charts=charts), mimetype="text/html")


@bp.get("/admin/data.json")
def data() -> Response:
    if _admin_key_id() is None:
        return auth.json_error(401, "admin credential required: 'Authorization: Bearer <admin key>'",
                               {"WWW-Authenticate": "Bearer"})
    import json

    return Response(json.dumps(dashboard_data(auth.settings(), get_store()), default=str), mimetype="application/json")


@bp.get("/admin/login")
def login_form() -> Response:
    return _login_page(200)


@bp.post("/admin/login")
def login() -> Response:
    sent = request.headers.get("Origin")
    if sent and origin_or_none(sent) != origin_or_none(request.host_url):
        return _login_page(403, "login from another site refused")
    verdict = _login_limiter().take(f"ip:{request.remote_addr}")
    if not verdict.allowed:
        return _login_page(429, f"too many attempts; retry in {verdict.retry_after_s} s")
    key = auth.key_store().verify((request.form.get("key") or "").strip())
    if key is None or key.scope != "admin":
        return _login_page(401, "not an active admin key (create one: triage keys create NAME --scope admin)")
    resp = redirect("/admin", code=303)
    resp.set_cookie(COOKIE, _signer().dumps(key.key_id), max_age=SESSION_S, path="/admin", httponly=True,
                    samesite="Strict", secure=request.is_secure)
    return resp


@bp.post("/admin/logout")
def logout() -> Response:
    resp = redirect("/admin/login", code=303)
    resp.delete_cookie(COOKIE, path="/admin", httponly=True, samesite="Strict", secure=request.is_secure)
    return resp
