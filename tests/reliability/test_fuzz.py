"""Hostile input on every public endpoint: no 5xx, no crash, every rejection a 4xx with a JSON reason.

Hypothesis drives Flask's test client (fast) with random JSON, wrong types, invalid UTF-8, deep
nesting, huge bodies and wrong content types — signed correctly, so the fuzz reaches the parsers
behind the signature check. A smaller set goes through a real socket to waitress, the production
server. ``TRIAGE_FUZZ_EXAMPLES`` scales the run (``bench/bench_fuzz.py`` runs it large).
"""

from __future__ import annotations

import json
import os
import threading

import pytest
import requests
from hypothesis import HealthCheck, given, settings, strategies as st

from plugin.apikeys import KeyStore
from simulators.zendesk import sign
from webhooks import create_app
from webhooks.service import build, close_server, make_server, waitress_body_cap

from reliability_support import CASES, FD_SECRET, ZD_SECRET, make_settings, now_ts

EXAMPLES = int(os.environ.get("TRIAGE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("TRIAGE_FUZZ_RANDOM") != "1",
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
LIMIT = 4096  # a small body limit so "huge" bodies are cheap to make

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text()
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=5)
                           | st.dictionaries(st.text(max_size=12), kids, max_size=5), max_leaves=25)
ids = st.one_of(st.integers(), st.text(max_size=20), st.floats(), st.none(), st.booleans(),
                st.lists(st.integers(), max_size=3), st.sampled_from(["12", " 7 ", "zen:ticket:35", "{{ticket.id}}", "-1"]))
zendesk_like = st.fixed_dictionaries({"ticket_id": ids}, optional={
    "subject": json_values, "description": json_values, "tags": json_values, "status": json_values,
    "updated_at": json_values, "type": st.sampled_from(["zen:event-type:ticket.created", "zen:event-type:user.x", "x"]),
    "detail": json_values, "event": json_values, "id": json_values, "ticket": json_values})
freshdesk_like = st.fixed_dictionaries({"freshdesk_webhook": st.fixed_dictionaries({"ticket_id": ids}, optional={
    "ticket_subject": json_values, "ticket_description": json_values, "ticket_tags": json_values,
    "triggered_event": st.one_of(json_values, st.sampled_from(["{ticket_action:created}", "{note_type:public}"])),
    "note_body": json_values})}) | json_values
classify_like = st.fixed_dictionaries({"inputs": json_values}, optional={"parameters": json_values}) | json_values


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


hostile_bytes = st.one_of(
    st.binary(max_size=300),  # mostly invalid UTF-8
    st.builds(lambda d: _nested(d), st.integers(1, 20_000)),
    st.builds(lambda d: b"[" * d, st.integers(1, 4000)),
    st.builds(lambda n: b'{"ticket_id": "1", "description": "' + b"x" * n + b'"}', st.integers(LIMIT - 64, LIMIT * 3)),
    st.sampled_from([b"", b"null", b"[]", b'"str"', b"1e999", b"\xef\xbb\xbf{}", b'{"ticket_id": "\xff\xfe"}',
                     b'{"ticket_id": NaN}', b'{"ticket_id": "1", "ticket_id": [1]}', b"\x00" * 10]),
)
content_types = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", "application/xml", "", "application/json; charset=latin-1"])


def _body(value) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value, allow_nan=True).encode()


def check(endpoint: str, status: int, data: bytes, content_type: str | None) -> None:
    """The contract for every answer to hostile input."""
    CASES[endpoint]["cases"] += 1
    if status >= 500:
        CASES[endpoint]["5xx"] += 1
    assert status < 500, (status, data[:200])
    if status >= 400:
        assert content_type and content_type.startswith("application/json"), (status, content_type, data[:200])
        reason = json.loads(data)["error"]
        assert isinstance(reason, str) and reason, data[:200]


@pytest.fixture
def app(tmp_path):
    """The app ``triage serve`` runs (``service.build``: committer, dispatcher, queue), driven
    through Flask's test client for speed; the socket test below adds waitress in front."""
    app, _queue = build(make_settings(tmp_path, max_body_bytes=LIMIT))
    yield app
    app.extensions["triage"]["dispatcher"].stop()


@pytest.fixture
def key(app):
    return KeyStore.for_instance(app.config["SETTINGS"].instance_dir).create("fuzz")[1]


def test_zendesk_endpoint(app):
    client = app.test_client()

    @FUZZ
    @given(body=st.one_of(zendesk_like, json_values, hostile_bytes), ctype=content_types, signed=st.booleans())
    def run(body, ctype, signed):
        raw, ts = _body(body), now_ts()
        headers = {"Content-Type": ctype}
        if signed:
            headers.update({"X-Zendesk-Webhook-Signature": sign(ZD_SECRET, ts, raw),
                            "X-Zendesk-Webhook-Signature-Timestamp": ts})
        resp = client.post("/webhooks/zendesk", data=raw, headers=headers)
        check("zendesk", resp.status_code, resp.data, resp.content_type)
        if not signed:
            assert resp.status_code in (401, 413)

    run()


def test_freshdesk_endpoint(app):
    client = app.test_client()

    @FUZZ
    @given(body=st.one_of(freshdesk_like, hostile_bytes), ctype=content_types,
           form=st.none() | st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=4))
    def run(body, ctype, form):
        headers = {"X-Triage-Secret": FD_SECRET}
        if form is not None:  # a form-encoded automation body
            resp = client.post("/webhooks/freshdesk", data=form, headers=headers)
        else:
            resp = client.post("/webhooks/freshdesk", data=_body(body), headers={**headers, "Content-Type": ctype})
        check("freshdesk", resp.status_code, resp.data, resp.content_type)

    run()


def test_classify_endpoint(app, key):
    client = app.test_client()

    @FUZZ
    @given(body=st.one_of(classify_like, hostile_bytes), ctype=content_types,
           auth=st.sampled_from(["key", "none", "garbage", "basic"]), extended=st.booleans())
    def run(body, ctype, auth, extended):
        headers = {"Content-Type": ctype, "Authorization": {"key": f"Bearer {key}", "none": "",
                                                            "garbage": "Bearer trk_000000000000_nope",
                                                            "basic": "Basic Zm9vOmJhcg=="}[auth]}
        resp = client.post("/v1/classify" + ("?extended=1" if extended else ""), data=_body(body), headers=headers)
        check("classify", resp.status_code, resp.data, resp.content_type)
        if auth != "key":
            assert resp.status_code in (401, 403, 413)
        elif resp.status_code == 200:
            labels = set(app.config["SETTINGS"] and _labels())
            out = json.loads(resp.data)
            for row in (out["predictions"] if extended else out):
                assert {p["label"] for p in row} <= labels

    run()


def _labels() -> set[str]:
    from plugin.taxonomy import load_taxonomy

    return set(load_taxonomy().names)


def test_real_socket_through_waitress(tmp_path):
    """The production path in front (``service.build`` + ``make_server``, what ``triage serve``
    runs): the same contract holds for bytes on the wire."""
    cfg = make_settings(tmp_path, max_body_bytes=LIMIT)
    app, _queue = build(cfg)
    key = KeyStore.for_instance(cfg.instance_dir).create("fuzz")[1]
    cap = waitress_body_cap(cfg)
    sockets: dict = {}
    server = make_server(app, cfg, port=0, sockets=sockets)
    http = threading.Thread(target=server.run, daemon=True)
    http.start()
    url = f"http://127.0.0.1:{server.effective_port}"
    session = requests.Session()
    try:
        @settings(max_examples=max(20, EXAMPLES // 5), deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(raw=hostile_bytes, ctype=content_types, path=st.sampled_from(["zendesk", "freshdesk", "classify"]))
        def run(raw, ctype, path):
            ts = now_ts()
            headers = {"Content-Type": ctype, "X-Zendesk-Webhook-Signature": sign(ZD_SECRET, ts, raw),
                       "X-Zendesk-Webhook-Signature-Timestamp": ts, "X-Triage-Secret": FD_SECRET,
                       "Authorization": f"Bearer {key}"}
            target = "/v1/classify" if path == "classify" else f"/webhooks/{path}"
            try:
                resp = session.post(url + target, data=raw, headers=headers, timeout=30)
            except requests.ConnectionError:
                assert len(raw) > cap  # waitress may hang up on a body beyond its hard cap
                return
            if len(raw) > cap:  # beyond waitress's hard cap: its own (plain-text) 413, documented
                assert resp.status_code == 413
                CASES[f"socket:{path}"]["cases"] += 1
                return
            check(f"socket:{path}", resp.status_code, resp.content, resp.headers.get("Content-Type"))

        run()
        # a chunked body (no Content-Length) larger than the limit: still a JSON 413
        for target in ("/webhooks/zendesk", "/webhooks/freshdesk", "/v1/classify"):
            resp = session.post(url + target, data=iter([b"x" * 1024] * (LIMIT // 1024 + 2)),
                                headers={"X-Triage-Secret": FD_SECRET, "Authorization": f"Bearer {key}"}, timeout=30)
            check("socket:chunked", resp.status_code, resp.content, resp.headers.get("Content-Type"))
            assert resp.status_code in (401, 413)
    finally:
        session.close()
        close_server(server, sockets, http)
        app.extensions["triage"]["dispatcher"].stop()


def test_zendesk_timestamp_header_fuzz(app):
    """A correctly signed delivery with any timestamp text: accepted only when fresh, else a 401."""
    client = app.test_client()
    raw = b'{"ticket_id": "5"}'

    @FUZZ
    @given(ts=st.one_of(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
                        st.datetimes().map(lambda d: d.isoformat()), st.sampled_from(
                            ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "nan", "1e308", ""])))
    def run(ts):
        resp = client.post("/webhooks/zendesk", data=raw, headers={
            "Content-Type": "application/json", "X-Zendesk-Webhook-Signature": sign(ZD_SECRET, ts, raw),
            "X-Zendesk-Webhook-Signature-Timestamp": ts})
        check("zendesk:timestamp", resp.status_code, resp.data, resp.content_type)
        assert resp.status_code in (200, 202, 401)

    run()


def test_form_submit_endpoint(tmp_path, zd):
    """The public form's submit endpoint (form token, creates a Zendesk ticket) under hostile bodies."""
    zd.rate_limit_per_minute = 10**6
    app = create_app(make_settings(tmp_path, zd, max_body_bytes=LIMIT, form_rate_per_minute=10**6,
                                   form_public_origins=["http://localhost"]))  # the test client's origin
    client = app.test_client()
    token = client.get("/form/token").get_json()["token"]
    form_like = st.fixed_dictionaries({}, optional={
        "description": st.one_of(json_values, st.text(min_size=15, max_size=60)), "subject": json_values,
        "category": st.one_of(json_values, st.sampled_from(["billing", "refund", "other", "nope"])),
        "suggested": json_values})

    @FUZZ
    @given(body=st.one_of(form_like, hostile_bytes), ctype=content_types)
    def run(body, ctype):
        resp = client.post("/form/tickets", data=_body(body),
                           headers={"Authorization": f"Bearer {token}", "Content-Type": ctype,
                                    "Origin": "http://localhost"})
        check("form", resp.status_code, resp.data, resp.content_type)

    run()
