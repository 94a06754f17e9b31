"""The simulators behave like the vendors where our client (and other helpers' tests) depend on it."""

from __future__ import annotations

import requests

from .conftest import wait_for


def test_zendesk_api_semantics(zd):
    auth = (f"{zd.email}/token", zd.api_token)
    api = zd.base_url + "/api/v2"
    assert requests.get(f"{api}/tickets/1.json", timeout=5).status_code == 401
    assert requests.get(f"{api}/tickets/1.json", auth=("x/token", "bad"), timeout=5).json() == {
        "error": "Couldn't authenticate you"}
    r = requests.post(f"{api}/tickets.json", auth=auth, timeout=5,
                      json={"ticket": {"subject": "s", "comment": {"body": "b"}, "tags": ["Nice Person", "vip"]}})
    assert r.status_code == 201 and r.headers["Location"].endswith(".json")
    tid = r.json()["ticket"]["id"]
    t = requests.get(f"{api}/tickets/{tid}", auth=auth, timeout=5)
    assert t.json()["ticket"]["tags"] == ["nice", "person", "vip"] and t.headers["X-Zendesk-API-Version"] == "v2"
    stamp = t.json()["ticket"]["updated_at"]
    # tags endpoints: POST sets, PUT adds, DELETE removes (JSON body or query)
    assert requests.post(f"{api}/tickets/{tid}/tags.json", auth=auth, json={"tags": ["a"]}, timeout=5).status_code == 201
    assert requests.put(f"{api}/tickets/{tid}/tags", auth=auth, json={"tags": ["B"]}, timeout=5).json() == {"tags": ["a", "b"]}
    assert requests.delete(f"{api}/tickets/{tid}/tags?tags=a", auth=auth, timeout=5).json() == {"tags": ["b"]}
    # a stale updated_stamp → 409 and nothing changes
    r = requests.put(f"{api}/tickets/{tid}.json", auth=auth, timeout=5,
                     json={"ticket": {"tags": ["x"], "safe_update": True, "updated_stamp": stamp}})
    assert r.status_code == 409 and zd.ticket(tid)["tags"] == ["b"]
    zd.agent_update(tid, status="closed")
    assert requests.put(f"{api}/tickets/{tid}.json", auth=auth, json={"ticket": {"tags": []}}, timeout=5).status_code == 422
    assert requests.delete(f"{api}/tickets/{tid}", auth=auth, timeout=5).status_code == 204
    assert requests.get(f"{api}/tickets/{tid}", auth=auth, timeout=5).json()["error"] == "RecordNotFound"


def test_zendesk_rate_limits(zd):
    auth = (f"{zd.email}/token", zd.api_token)
    zd.per_ticket_updates = 2
    tid = zd.create_ticket("s", "b")["id"]
    url = f"{zd.base_url}/api/v2/tickets/{tid}.json"
    codes = [requests.put(url, auth=auth, json={"ticket": {"tags": [str(i)]}}, timeout=5).status_code for i in range(3)]
    assert codes == [200, 200, 429]
    zd.rate_limit_per_minute = 0
    r = requests.get(url, auth=auth, timeout=5)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and r.headers["X-Rate-Limit-Remaining"] == "0"


def test_zendesk_webhook_retries_on_409_then_gives_up(zd):
    """Delivery retries 409 responses (and timeouts); our receiver never answers 409, a fake does."""
    from flask import Flask
    from werkzeug.serving import make_server
    import threading

    hits = []
    app = Flask("fake")
    app.add_url_rule("/hook", "hook", lambda: (hits.append(1), ("conflict", 409))[1], methods=["POST"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = {"id": "W1", "endpoint": f"http://127.0.0.1:{server.server_port}/hook", "_secret": "s"}
        zd.webhooks["W1"] = hook
        zd.webhook_retry_delays = [0.01] * 5
        zd._send_webhook(hook, b"{}")
        assert wait_for(lambda: len(zd.deliveries) == 6, 30)
        assert [d.attempt for d in zd.deliveries] == [1, 2, 3, 4, 5, 6] and len(hits) == 6
    finally:
        server.shutdown()
        server.server_close()


def test_freshdesk_api_semantics(fd):
    api = fd.base_url + "/api/v2"
    assert requests.get(f"{api}/tickets/1", auth=("wrong", "X"), timeout=5).status_code == 401
    auth = (fd.api_key, "X")
    r = requests.post(f"{api}/tickets", auth=auth, json={"subject": "s", "description": "<p>hi</p>", "tags": ["a"]}, timeout=5)
    tid = r.json()["id"]
    assert r.status_code == 201 and r.json()["status"] == 2 and "X-RateLimit-Remaining" in r.headers
    r = requests.put(f"{api}/tickets/{tid}", auth=auth, json={"tags": ["b"]}, timeout=5)
    assert r.json()["tags"] == ["b"]  # PUT replaces the list
    r = requests.put(f"{api}/tickets/{tid}", auth=auth, json={"custom_fields": {"cf_ai_category": "nope"}}, timeout=5)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "custom_fields.cf_ai_category"
    r = requests.put(f"{api}/tickets/{tid}", auth=auth, json={"id": 5}, timeout=5)
    assert r.json()["errors"][0]["code"] == "invalid_field"
    fd.fail_next("GET", 429, retry_after=3)
    r = requests.get(f"{api}/tickets/{tid}", auth=auth, timeout=5)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert fd.writes[str(tid)] == 1
