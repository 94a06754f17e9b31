"""The form's HTTP side without a browser: page, token refresh, submit validation and errors, and
who may get in (secure by default; public only for listed origins, with a matching Origin)."""

import re

import pytest
import requests

from plugin import formtoken
from plugin.apikeys import KeyStore
from plugin.config import load_settings
from simulators.zendesk import ZendeskSimulator
from webhooks import client_auth

from .conftest import make_app, serving, serving_public_form

TEXT = "My parcel has not arrived yet and it has been two weeks"


def _page_token(url):
    page = requests.get(f"{url}/form")
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    return re.search(r'name="triage-form-token" content="([^"]*)"', page.text).group(1), page.text


def test_page_lists_categories_and_embeds_a_token_bound_to_its_origin(tmp_path):
    with serving_public_form(tmp_path) as (app, url):
        token, html = _page_token(url)
        with app.app_context():
            secret = client_auth.form_secret()
        assert formtoken.verify(secret, token, url, 600) is formtoken.Check.OK
        assert formtoken.verify(secret, token, "https://evil.example", 600) is formtoken.Check.WRONG_ORIGIN
        assert 'value="billing"' in html and 'data-debounce-ms="1500"' in html and 'data-min-chars="20"' in html
        fresh = requests.get(f"{url}/form/token").json()
        assert fresh["token"] != token and fresh["ttl_s"] == 600
        assert requests.get(f"{url}/form/static/form.js").status_code == 200
        # a page fetched for another site gets nothing
        assert requests.get(f"{url}/form/token", headers={"Origin": "https://evil.example"}).status_code == 403


def test_default_config_serves_the_page_but_no_token_and_refuses_without_a_key(tmp_path):
    """A fresh `make run` (no settings): nothing that costs money or writes to the helpdesk opens."""
    with ZendeskSimulator() as zd:
        app = make_app(tmp_path, zendesk_base_url=zd.base_url, zendesk_email=zd.email,
                       zendesk_api_token=zd.api_token)
        defaults = load_settings(env={})
        assert defaults.form_public_origins == [] and defaults.classify_require_key
        with serving(app) as url:
            token, html = _page_token(url)
            assert token == "" and "not open to the public" in html
            assert requests.get(f"{url}/form/token").status_code == 403
            body = {"description": TEXT, "category": "delivery"}
            for origin in ({}, {"Origin": url}):
                assert requests.post(f"{url}/form/tickets", json=body, headers=origin).status_code == 401
                assert requests.post(f"{url}/v1/classify", json={"inputs": TEXT}, headers=origin).status_code == 401
            # a token signed with the instance's own secret is still refused while the form is closed
            with app.app_context():
                forged = formtoken.issue(client_auth.form_secret(), url)
            auth = {"Authorization": f"Bearer {forged}", "Origin": url}
            assert requests.post(f"{url}/v1/classify", json={"inputs": TEXT}, headers=auth).status_code == 403
            assert requests.post(f"{url}/form/tickets", json=body, headers=auth).status_code == 403
        assert zd.tickets == {}


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null", "http://127.0.0.1:1"])
def test_form_token_needs_the_origin_it_was_issued_for(tmp_path, origin):
    with serving_public_form(tmp_path) as (app, url):
        token, _ = _page_token(url)
        headers = {"Authorization": f"Bearer {token}"}
        if origin is not None:
            headers["Origin"] = origin
        for path, body in (("/v1/classify", {"inputs": TEXT}), ("/form/tickets", {"description": TEXT,
                                                                                  "category": "delivery"})):
            resp = requests.post(url + path, json=body, headers=headers)
            assert resp.status_code == 403 and "Origin" in resp.json()["error"], (path, resp.text)
        ok = requests.post(f"{url}/v1/classify", json={"inputs": TEXT}, headers={**headers, "Origin": url})
        assert ok.status_code == 200


def test_page_behind_a_tls_proxy_gets_a_token_for_the_listed_https_origin(tmp_path):
    """The proxy forwards Host; the service sees http://. The token is bound to the listed origin,
    and the browser's Origin on each call is what decides."""
    listed = "https://support.example.com"
    app = make_app(tmp_path, form_public_origins=[listed])
    with serving(app) as url:
        page = requests.get(f"{url}/form", headers={"Host": "support.example.com"})
        token = re.search(r'name="triage-form-token" content="([^"]*)"', page.text).group(1)
        assert token
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.post(f"{url}/v1/classify", json={"inputs": TEXT},
                             headers={**headers, "Origin": listed}).status_code == 200
        assert requests.post(f"{url}/v1/classify", json={"inputs": TEXT},
                             headers={**headers, "Origin": "http://support.example.com"}).status_code == 403
        assert requests.get(f"{url}/form/token", headers={"Host": "other.example.com"}).status_code == 403


def test_token_for_an_origin_no_longer_listed_is_refused(tmp_path):
    with serving_public_form(tmp_path) as (app, url):
        token, _ = _page_token(url)
        app.config["SETTINGS"] = app.config["SETTINGS"].model_copy(
            update={"form_public_origins": ["https://support.example.com"]})
        resp = requests.post(f"{url}/v1/classify", json={"inputs": TEXT},
                             headers={"Authorization": f"Bearer {token}", "Origin": url})
        assert resp.status_code == 403


def test_cors_only_for_the_listed_origins(tmp_path):
    with serving_public_form(tmp_path) as (_, url):
        for path in ("/v1/classify", "/form/tickets"):
            pre = requests.options(url + path, headers={"Origin": url, "Access-Control-Request-Method": "POST",
                                                        "Access-Control-Request-Headers": "authorization"})
            assert pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == url
            other = requests.options(url + path, headers={"Origin": "https://evil.example",
                                                          "Access-Control-Request-Method": "POST"})
            assert "Access-Control-Allow-Origin" not in other.headers


def test_form_calls_are_rate_limited_per_address(tmp_path):
    with serving_public_form(tmp_path, form_rate_per_minute=2) as (_, url):
        token, _ = _page_token(url)
        headers = {"Authorization": f"Bearer {token}", "Origin": url}
        codes = [requests.post(f"{url}/v1/classify", json={"inputs": TEXT}, headers=headers).status_code
                 for _ in range(3)]
        assert codes == [200, 200, 429]


def test_submit_validates_and_creates_ticket(tmp_path):
    with ZendeskSimulator() as zd:
        with serving_public_form(tmp_path, zendesk_base_url=zd.base_url, zendesk_email=zd.email,
                                 zendesk_api_token=zd.api_token) as (_, url):
            token, _ = _page_token(url)
            auth = {"Authorization": f"Bearer {token}", "Origin": url}
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


def test_submit_with_a_form_scope_key_and_no_public_form(tmp_path):
    """Internal use (an app with a key, no public page): a key of scope ``form`` may submit."""
    with ZendeskSimulator() as zd:
        app = make_app(tmp_path, zendesk_base_url=zd.base_url, zendesk_email=zd.email,
                       zendesk_api_token=zd.api_token)
        store = KeyStore.for_instance(app.config["SETTINGS"].instance_dir)
        _, form_key = store.create("intranet", scope="form")
        _, classify_key = store.create("app")
        body = {"description": TEXT, "category": "delivery"}
        with serving(app) as url:
            post = lambda key: requests.post(f"{url}/form/tickets", json=body,  # noqa: E731
                                             headers={"Authorization": f"Bearer {key}"})
            assert post(classify_key).status_code == 403
            assert post(form_key).status_code == 201
            assert requests.post(f"{url}/v1/classify", json={"inputs": TEXT},
                                 headers={"Authorization": f"Bearer {form_key}"}).status_code == 403


def test_submit_without_helpdesk_is_a_clear_503(tmp_path):
    with serving_public_form(tmp_path) as (_, url):
        token, _ = _page_token(url)
        resp = requests.post(f"{url}/form/tickets", json={"description": TEXT, "category": "delivery"},
                             headers={"Authorization": f"Bearer {token}", "Origin": url})
        assert resp.status_code == 503 and "zendesk" in resp.json()["error"]


def test_form_can_be_disabled(tmp_path):
    app = make_app(tmp_path, form_enabled=False, form_public_origins=["http://127.0.0.1"])
    with app.app_context():
        token = formtoken.issue(client_auth.form_secret(), "http://127.0.0.1")
    with serving(app) as url:
        assert requests.get(f"{url}/form").status_code == 404
        resp = requests.post(f"{url}/v1/classify", json={"inputs": TEXT},
                             headers={"Authorization": f"Bearer {token}", "Origin": "http://127.0.0.1"})
        assert resp.status_code == 403
