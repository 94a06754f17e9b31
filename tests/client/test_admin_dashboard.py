"""``/admin`` in a real headless Chromium: refuses without an admin key, loads with one, shows the
store's numbers; plus the headers that keep it from being used cross-site.

Screenshots go to a temporary artifacts folder (``$TRIAGE_TEST_ARTIFACTS`` or pytest's tmp dir),
never into the repo.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from plugin.apikeys import KeyStore
from plugin.rollout import MANUAL, RolloutStore
from plugin.store import EventState, EventStore

from .conftest import make_app, serving

# (ticket, label, score, decision, agent's label) — the store the dashboard must reflect
TICKETS = [("1", "billing", 0.95, "auto_apply", "billing"), ("2", "billing", 0.91, "auto_apply", "billing"),
           ("3", "refund", 0.72, "suggest", "billing"), ("4", "delivery", 0.88, "auto_apply", "delivery"),
           ("5", "other", 0.40, "needs_review", None), ("6", "account", 0.30, "needs_review", None)]
SECRET_TEXT = "card 4111 1111 1111 1111"  # raw text never stored; only the redacted text is


def _populate(settings) -> None:
    """Six shadow-mode tickets, four labelled by agents (three agree), as the job would leave them."""
    store, rollout = EventStore(settings.database), RolloutStore(settings.database)
    for tid, label, score, decision, agent in TICKETS:
        eid, _ = store.add_event("zendesk", tid, f"k{tid}")
        store.claim(eid)
        store.record_classification(eid, label=label, score=score, decision=decision, classifier="fallback",
                                    model_version="m1", prompt_tokens=0, completion_tokens=0, latency_ms=3.0)
        store.finish(eid, EventState.SHADOW, tags_written=[])
        rollout.record_ticket(eid, vendor="zendesk", ticket_id=tid, grp=MANUAL, path="fallback",
                              text=f"ticket {tid} about {label}, [CARD_1] was used")
        if agent:
            rollout.note_activity(vendor="zendesk", ticket_id=tid, kind="label", value=agent, source="tag")


@pytest.fixture
def admin_app(tmp_path):
    app = make_app(tmp_path, rollout_mode="shadow")
    settings = app.config["SETTINGS"]
    _populate(settings)
    keys = KeyStore.for_instance(settings.instance_dir)
    _, admin = keys.create("ops", scope="admin")
    _, classify = keys.create("app", scope="classify")
    return app, admin, classify


def test_refused_without_admin_credential_and_never_cross_site(admin_app):
    app, admin, classify = admin_app
    client = app.test_client()
    page = client.get("/admin")
    assert page.status_code == 401 and b"Sign in" in page.data and b"agreement" not in page.data
    assert client.get("/admin/data.json").status_code == 401
    assert client.get("/admin", headers={"Authorization": f"Bearer {classify}"}).status_code == 401  # wrong scope
    assert client.post("/admin/login", data={"key": classify}).status_code == 401
    foreign = client.post("/admin/login", data={"key": admin}, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "Set-Cookie" not in foreign.headers
    ok = client.get("/admin", headers={"Authorization": f"Bearer {admin}", "Origin": "https://evil.example"})
    assert ok.status_code == 200 and "Access-Control-Allow-Origin" not in ok.headers
    csp = ok.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src" not in csp and "default-src 'none'" in csp
    assert ok.headers["Cache-Control"] == "no-store" and ok.headers["X-Frame-Options"] == "DENY"
    pre = client.options("/admin/data.json", headers={"Origin": "https://evil.example",
                                                      "Access-Control-Request-Method": "GET",
                                                      "Access-Control-Request-Headers": "authorization"})
    assert "Access-Control-Allow-Origin" not in pre.headers and "Access-Control-Allow-Headers" not in pre.headers
    login = client.post("/admin/login", data={"key": admin})
    cookie = login.headers["Set-Cookie"]
    assert login.status_code == 303 and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    KeyStore.for_instance(app.config["SETTINGS"].instance_dir).revoke(admin.split("_")[1])
    assert client.get("/admin").status_code == 401  # the session dies with its key


def test_data_json_holds_the_store_numbers(admin_app):
    app, admin, _ = admin_app
    d = app.test_client().get("/admin/data.json", headers={"Authorization": f"Bearer {admin}"}).get_json()
    assert d["stats"]["n"] == 6 and d["stats"]["labels"]["billing"] == 2
    assert (d["agreement"]["agreement"]["k"], d["agreement"]["agreement"]["n"]) == (3, 4)
    assert sum(d["histogram"]) == 6 and sum(r["n"] for r in d["timeline"]) == 6
    assert {r["ticket_id"] for r in d["recent"]} == {t[0] for t in TICKETS}
    assert all("[CARD_1]" in r["text"] for r in d["recent"])


@pytest.mark.browser
def test_dashboard_in_chromium(admin_app, browser, tmp_path):
    app, admin, classify = admin_app
    shots = Path(os.environ.get("TRIAGE_TEST_ARTIFACTS") or tmp_path / "artifacts")
    shots.mkdir(parents=True, exist_ok=True)
    with serving(app) as url:
        context = browser.new_context()
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        resp = page.goto(f"{url}/admin")
        assert resp.status == 401 and page.locator("#sign-in").is_visible()
        assert page.locator("#kpi-volume").count() == 0  # no numbers without a credential
        page.fill("#key", classify)
        page.click("#sign-in")
        assert "not an active admin key" in page.locator("#login-error").inner_text()
        page.screenshot(path=str(shots / "admin_refused.png"))

        page.fill("#key", admin)
        with page.expect_navigation():
            page.click("#sign-in")
        assert page.url.endswith("/admin")
        assert page.locator("#kpi-volume b").inner_text() == "6"
        assert page.locator("#kpi-agreement b").inner_text() == "75.0%"  # 3 of 4 agent labels agree
        other = 100 * sum(t[1] == "other" for t in TICKETS) / len(TICKETS)
        assert page.locator("#kpi-other-rate b").inner_text() == f"{other:.1f}%"
        assert page.locator("#kpi-needs-review b").inner_text() == "33.3%"
        assert page.locator("#mode b").inner_text() == "shadow"
        rows = page.locator("#recent tr.ticket")
        assert rows.count() == len(TICKETS)
        assert "[CARD_1]" in page.locator("#recent").inner_text() and SECRET_TEXT not in page.content()
        assert page.locator('#precision tr[data-label="billing"] td').nth(2).inner_text() == "2/2 (100%)"
        # the charts are drawn (server-side SVG): one bar per non-empty histogram bin, a decision bar
        assert page.locator("#confidence svg rect.bar").count() == 5  # scores fall in 5 of the 10 bins
        assert page.locator("#volume svg rect.bar").count() == 3  # one period, three decisions
        assert page.locator("#agreement svg rect.bar").count() == 3  # billing, refund, delivery
        box = page.locator("#volume svg").bounding_box()
        assert box and box["width"] > 300 and box["height"] > 150  # styled and visible, CSS loaded
        assert not [e for e in errors if re.search("Content Security Policy|Refused", e)], errors
        page.screenshot(path=str(shots / "admin_dashboard.png"), full_page=True)
        context.close()
    assert (shots / "admin_dashboard.png").stat().st_size > 10_000
