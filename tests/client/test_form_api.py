"""The form's HTTP side without a browser: page, token refresh, submit validation and errors."""

import re

import requests

from plugin import formtoken
from simulators.zendesk import ZendeskSimulator
from webhooks import client_auth

from .conftest import make_app, serving

TEXT = "My parcel has not arrived yet and it has been two weeks"


def _page_token(url):
    page = requests.get(f"{url}/form")
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    return re.search(r'name="triage-form-token" content="([^"]+)"', page.text).group(1), page.text


def test_page_lists_categories_and_embeds_a_valid_token(app, base_url):
    token, html = _page_token(base_url)
    with app.app_context():
        assert formtoken.verify(client_auth.form_secret(), token)
    assert 'value="billing"' in html and 'data-debounce-ms="1500"' in html and 'data-min-chars="20"' in html
    fresh = requests.get(f"{base_url}/form/token").json()
    assert fresh["token"] != token and fresh["ttl_s"] == 3600
    assert requests.get(f"{base_url}/form/static/form.js").status_code == 200


def test_submit_validates_and_creates_ticket(tmp_path):
    with ZendeskSimulator() as zd:
        app = make_app(tmp_path, zendesk_base_url=zd.base_url, zendesk_email=zd.email,
                       zendesk_api_token=zd.api_token)
        with serving(app) as url:
            token, _ = _page_token(url)
            auth = {"Authorization": f"Bearer {token}"}
            post = lambda body: requests.post(f"{url}/form/tickets", json=body, headers=auth)  # noqa: E731
            assert post({"description": "too short", "category": "billing"}).status_code == 400
            assert post({"description": TEXT, "category": "not-a-category"}).status_code == 400
            assert post({"description": TEXT, "category": "delivery", "subject": 5}).status_code == 400
            assert requests.post(f"{url}/form/tickets", json={"description": TEXT, "category": "delivery"},
                                 headers={**auth, "Origin": "https://evil.example"}).status_code == 403
            created = post({"description": TEXT, "category": "delivery", "suggested": "delivery"})
            assert created.status_code == 201
            ticket = zd.ticket(int(created.json()["ticket_id"]))
            assert ticket["description"] == TEXT and ticket["subject"] == TEXT[:60]
            assert set(ticket["tags"]) == {"triage_delivery", "triage_classified"}


def test_submit_without_helpdesk_is_a_clear_503(app, base_url):
    token, _ = _page_token(base_url)
    resp = requests.post(f"{base_url}/form/tickets", json={"description": TEXT, "category": "delivery"},
                         headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 503 and "zendesk" in resp.json()["error"]


def test_form_can_be_disabled(tmp_path):
    app = make_app(tmp_path, form_enabled=False)
    with app.app_context():
        token = formtoken.issue(client_auth.form_secret(), 60)
    with serving(app) as url:
        assert requests.get(f"{url}/form").status_code == 404
        resp = requests.post(f"{url}/v1/classify", json={"inputs": TEXT},
                             headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 403
