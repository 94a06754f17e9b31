"""Nobody gets in: forged, stale, missing, wrong-secret and wrong-scope credentials are all refused,
refusals carry a JSON reason and no secret, and every secret comparison is constant-time."""

from __future__ import annotations

import ast
import base64
import hmac
import inspect
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import plugin.apikeys
import plugin.formtoken
import webhooks.client_auth
import webhooks.freshdesk
import webhooks.signature
import webhooks.zendesk
from plugin.apikeys import KeyStore
from simulators.zendesk import sign
from webhooks import create_app
from webhooks.signature import ZENDESK_TEST_SECRET

from reliability_support import CASES, FD_SECRET, ZD_SECRET, make_settings

BODY = json.dumps({"ticket_id": "42", "subject": "Help", "description": "refund please"}).encode()


def _ts(delta_s: float = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=delta_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def app(tmp_path):
    return create_app(make_settings(tmp_path))


@pytest.fixture
def client(app):
    return app.test_client()


def _refused(resp, statuses=(401,)) -> None:
    CASES["auth"]["cases"] += 1
    assert resp.status_code in statuses, (resp.status_code, resp.data[:200])
    assert resp.is_json and resp.get_json()["error"]
    for secret in (ZD_SECRET, FD_SECRET):
        assert secret.encode() not in resp.data


def _zd(client, body=BODY, *, secret=ZD_SECRET, ts=None, sig=None, drop=()):
    ts = ts if ts is not None else _ts()
    headers = {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature-Timestamp": ts,
               "X-Zendesk-Webhook-Signature": sig if sig is not None else sign(secret, ts, body)}
    for name in drop:
        headers.pop(name)
    return client.post("/webhooks/zendesk", data=body, headers=headers)


def test_zendesk_forgeries_are_refused(client):
    good_ts = _ts()
    real = sign(ZD_SECRET, good_ts, BODY)
    flipped = base64.b64encode(bytes(b ^ 1 if i == 0 else b for i, b in enumerate(base64.b64decode(real)))).decode()
    forgeries = {
        "other secret": dict(secret="not-the-secret"),
        "zendesk test secret (not enabled)": dict(secret=ZENDESK_TEST_SECRET),
        "secret with a suffix": dict(secret=ZD_SECRET + "x"),
        "empty secret": dict(secret=""),
        "one bit flipped": dict(ts=good_ts, sig=flipped),
        "truncated signature": dict(ts=good_ts, sig=real[:-4]),
        "hex instead of base64": dict(ts=good_ts, sig=hmac.new(ZD_SECRET.encode(), good_ts.encode() + BODY, "sha256").hexdigest()),
        "body + timestamp order": dict(ts=good_ts, sig=base64.b64encode(hmac.new(ZD_SECRET.encode(), BODY + good_ts.encode(), "sha256").digest()).decode()),
        "signature of another body": dict(ts=good_ts, sig=sign(ZD_SECRET, good_ts, BODY + b" ")),
        "signature for another timestamp": dict(ts=_ts(-1), sig=real),
        "garbage": dict(sig="%%%not base64%%%"),
        "empty signature": dict(sig=""),
        "stale by 10 minutes (correctly signed)": dict(ts=_ts(-600)),
        "from the future by 10 minutes": dict(ts=_ts(+600)),
        "unreadable timestamp (correctly signed)": dict(ts="yesterday"),
        "missing signature": dict(drop=("X-Zendesk-Webhook-Signature",)),
        "missing timestamp": dict(drop=("X-Zendesk-Webhook-Signature-Timestamp",)),
        "missing both": dict(drop=("X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp")),
    }
    for name, kwargs in forgeries.items():
        resp = _zd(client, **kwargs)
        assert resp.status_code == 401, name
        _refused(resp)
    assert _zd(client).status_code == 202  # the same body, properly signed, is accepted


def test_replayed_delivery_never_runs_twice(client):
    ts = _ts()
    first = _zd(client, ts=ts)
    assert first.status_code == 202
    again = _zd(client, ts=ts)  # a byte-identical replay inside the skew window: deduplicated
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert again.get_json()["event_id"] == first.get_json()["event_id"]
    stale = _zd(client, ts=_ts(-3600), sig=None)  # a replay captured an hour ago
    _refused(stale)


def test_freshdesk_wrong_or_missing_secret_is_refused(client):
    body = {"freshdesk_webhook": {"ticket_id": 7, "triggered_event": "{ticket_action:created}"}}
    basic = lambda user, pw: "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()  # noqa: E731
    attempts = {
        "no credentials": {},
        "wrong secret": {"X-Triage-Secret": "nope"},
        "secret prefix": {"X-Triage-Secret": FD_SECRET[:-1]},
        "secret with suffix": {"X-Triage-Secret": FD_SECRET + "0"},
        "empty header": {"X-Triage-Secret": ""},
        "right secret, wrong header": {"X-Other-Secret": FD_SECRET},
        "basic, wrong password": {"Authorization": basic("triage", "nope")},
        "basic, garbage": {"Authorization": "Basic !!!"},
        "basic, invalid utf-8": {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()},
        "bearer with the secret": {"Authorization": f"Bearer {FD_SECRET}"},
        "zendesk signature instead": {"X-Zendesk-Webhook-Signature": sign(ZD_SECRET, _ts(), json.dumps(body).encode()),
                                      "X-Zendesk-Webhook-Signature-Timestamp": _ts()},
    }
    for name, headers in attempts.items():
        resp = client.post("/webhooks/freshdesk", json=body, headers=headers)
        assert resp.status_code == 401, name
        _refused(resp)
    assert client.post("/webhooks/freshdesk", json=body, headers={"X-Triage-Secret": FD_SECRET}).status_code == 202
    assert client.post("/webhooks/freshdesk", json={"freshdesk_webhook": {"ticket_id": 8}},
                       headers={"Authorization": basic("triage", FD_SECRET)}).status_code == 202


def test_no_secret_configured_means_nobody_gets_in(tmp_path):
    client = create_app(make_settings(tmp_path, zendesk_signing_secret=None, freshdesk_webhook_secret=None)).test_client()
    _refused(_zd(client))
    _refused(client.post("/webhooks/freshdesk", json={"ticket_id": 1}, headers={"X-Triage-Secret": ""}))
    _refused(client.post("/webhooks/freshdesk", json={"ticket_id": 1}, headers={"X-Triage-Secret": "None"}))


def test_classify_keys_wrong_endpoint_wrong_scope_revoked(app, client):
    keys = KeyStore.for_instance(app.config["SETTINGS"].instance_dir)
    classify_key, token = keys.create("app")
    _, admin_token = keys.create("ops", scope="admin")
    ok = {"inputs": "I was charged twice"}
    assert client.post("/v1/classify", json=ok, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # a classify key on the webhooks: not a webhook credential
    _refused(client.post("/webhooks/zendesk", data=BODY, headers={"Authorization": f"Bearer {token}"}))
    _refused(client.post("/webhooks/freshdesk", json={"ticket_id": 1}, headers={"Authorization": f"Bearer {token}"}))
    # a key of another scope on /v1/classify: 403, and the reason names scopes, not the key
    resp = client.post("/v1/classify", json=ok, headers={"Authorization": f"Bearer {admin_token}"})
    _refused(resp, (403,))
    assert admin_token.encode() not in resp.data
    # tampered, truncated, other-id and revoked keys: 401
    key_id = classify_key.key_id
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), token[:-5], f"trk_{'0' * 12}_{token.split('_', 2)[2]}",
                token.replace(key_id, key_id[::-1]), "trk_", "Bearer", token + " extra"):
        _refused(client.post("/v1/classify", json=ok, headers={"Authorization": f"Bearer {bad}"}), (401, 403))
    _refused(client.post("/v1/classify", json=ok, headers={"Authorization": token}))  # no scheme
    _refused(client.post("/v1/classify", json=ok, headers={"Authorization": f"Basic {token}"}))
    _refused(client.post("/v1/classify", json=ok))
    keys.revoke(key_id)
    resp = client.post("/v1/classify", json=ok, headers={"Authorization": f"Bearer {token}"})
    _refused(resp)
    assert token.encode() not in resp.data


def test_form_token_cross_origin_and_tampering(tmp_path):
    """Closed by default; opened for one origin, a token works only with that Origin header."""
    closed = create_app(make_settings(tmp_path / "closed")).test_client()
    _refused(closed.get("/form/token"), (403,))
    app = create_app(make_settings(tmp_path, form_public_origins=["https://support.example.com"]))
    client = app.test_client()
    origin = {"Origin": "https://support.example.com"}
    token = client.get("/form/token", headers=origin).get_json()["token"]
    ok = {"inputs": "my parcel is late"}
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.post("/v1/classify", json=ok, headers={**bearer, **origin}).status_code == 200
    _refused(client.post("/v1/classify", json=ok, headers=bearer), (403,))  # no Origin
    _refused(client.post("/v1/classify", json=ok, headers={**bearer, "Origin": "https://evil.example"}), (403,))
    _refused(client.post("/form/tickets", json=ok, headers=bearer), (403,))
    _refused(client.post("/v1/classify", json=ok, headers={"Authorization": f"Bearer {token[:-2]}xx", **origin}))
    _refused(closed.post("/v1/classify", json=ok, headers={**bearer, **origin}), (401, 403))  # other instance
    # a form token is not a webhook credential either
    _refused(client.post("/webhooks/freshdesk", json={"ticket_id": 1}, headers=bearer))


# --- constant-time comparisons ----------------------------------------------------------------
CHECKERS = [webhooks.signature.signature_matches, webhooks.freshdesk.verify,
            plugin.apikeys.KeyStore.verify, plugin.formtoken.verify]
SECRETISH = ("secret", "signature", "sig", "token", "digest", "expected", "presented", "candidate", "stored", "mac")


def test_secret_comparisons_use_compare_digest_in_code():
    for fn in CHECKERS:
        source = inspect.getsource(fn)
        assert "compare_digest(" in source, fn.__qualname__
    # and no plain ==/!= on anything secret-looking anywhere in the auth code
    for module in (webhooks.signature, webhooks.zendesk, webhooks.freshdesk, webhooks.client_auth,
                   plugin.apikeys, plugin.formtoken):
        tree = ast.parse(Path(inspect.getsourcefile(module)).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
                names = {n.id.lower() for side in (node.left, *node.comparators) for n in ast.walk(side)
                         if isinstance(n, ast.Name)}
                assert not any(s in name for name in names for s in SECRETISH), \
                    f"{module.__name__}:{node.lineno} compares a secret with ==: {ast.unparse(node)}"


def test_compare_digest_is_on_the_request_path(client, app, monkeypatch):
    """Behavioural: each refusal above went through hmac.compare_digest, not an early-exit compare."""
    calls: list[str] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append(type(a).__name__)
        return real(a, b)

    for module in (webhooks.signature, webhooks.freshdesk, plugin.apikeys, plugin.formtoken):
        monkeypatch.setattr(module.hmac, "compare_digest", spy)
    _zd(client, secret="wrong")
    assert calls, "zendesk signature check did not use compare_digest"
    calls.clear()
    client.post("/webhooks/freshdesk", json={"ticket_id": 1}, headers={"X-Triage-Secret": "wrong"})
    assert calls, "freshdesk secret check did not use compare_digest"
    calls.clear()
    _, token = KeyStore.for_instance(app.config["SETTINGS"].instance_dir).create("spy")
    client.post("/v1/classify", json={"inputs": "x"}, headers={"Authorization": f"Bearer {token[:-1]}Q"})
    assert calls, "api key check did not use compare_digest"
