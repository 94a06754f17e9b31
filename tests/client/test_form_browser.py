"""The ticket form in a real headless Chromium: debounce, cancellation, manual picker, submit.

Needs Debian's ``chromium`` (``.ci/run`` installs it); Playwright drives it via
``executable_path`` so no browser download is needed. A screenshot lands in ``tests/artifacts/``.
"""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest

from simulators.zendesk import ZendeskSimulator
from webhooks import classify_api

from .conftest import serving_public_form

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SLOW_MARK = "!"  # a classify request whose text ends with this is answered slowly
SLOW_S = 3.0
CONFIDENT = ["I want a refund for my broken item please", "When will my refund arrive? I returned it weeks ago",
             "I forgot my password and cannot log in to my account", "My parcel has not arrived yet, where is it"]
UNSURE = ["Lorem ipsum dolor sit amet, consectetur adipiscing elit", "qwerty asdf zxcv uiop hjkl bnm poiuy",
          "The weather today is grey and a little windy outside"]

# Records, inside the page, when each input event and each classify fetch happened.
INIT_JS = """
window.__log = [];
document.addEventListener('input', () => window.__log.push({kind: 'input', t: performance.now()}), true);
const realFetch = window.fetch;
window.fetch = function (url, opts) {
  if (String(url).includes('/v1/classify')) window.__log.push({kind: 'fetch', t: performance.now(), body: opts.body});
  return realFetch.apply(this, arguments);
};
"""


class ClassifyRecorder:
    """WSGI middleware: records classify requests and slows down those ending with SLOW_MARK."""

    def __init__(self, app) -> None:
        self.app = app
        self.texts: list[str] = []
        self.origins: list[str | None] = []  # the Origin header the browser sent with each call
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/v1/classify" and environ.get("REQUEST_METHOD") == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            text = json.loads(body).get("inputs", "")
            with self.lock:
                self.texts.append(text)
                self.origins.append(environ.get("HTTP_ORIGIN"))
            if isinstance(text, str) and text.endswith(SLOW_MARK):
                time.sleep(SLOW_S)
        return self.app(environ, start_response)


@pytest.fixture
def service(tmp_path):
    """The form opened to the public for exactly the origin the browser loads it from."""
    with ZendeskSimulator() as zd, serving_public_form(tmp_path, zendesk_base_url=zd.base_url,
                                                       zendesk_email=zd.email,
                                                       zendesk_api_token=zd.api_token) as (app, url):
        with app.app_context():
            pipeline = classify_api.get_pipeline()
            confident = [t for t in CONFIDENT if pipeline.classify(t).decision != "needs_review"]
            unsure = [t for t in UNSURE if pipeline.classify(t).decision == "needs_review"]
        assert confident and unsure, "the bundled model gives no usable example texts; update the lists"
        recorder = ClassifyRecorder(app.wsgi_app)
        app.wsgi_app = recorder
        yield {"url": url, "zendesk": zd, "recorder": recorder, "confident": confident[0],
               "unsure": unsure[0]}


@pytest.fixture
def page(browser, service):
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(INIT_JS)
    page.goto(f"{service['url']}/form")
    yield page
    context.close()


def _log(page):
    return page.evaluate("window.__log")


def test_debounce_suggest_override_and_submit(page, service):
    rec = service["recorder"]
    page.type("#description", "Short one here", delay=40)  # < 20 characters: never classified
    page.wait_for_timeout(2000)
    assert rec.texts == [] and not [e for e in _log(page) if e["kind"] == "fetch"]

    page.fill("#description", "")
    text = service["confident"]
    page.type("#description", text, delay=60)  # keystrokes far closer than 1.5 s apart
    assert rec.texts == []  # nothing while typing
    page.wait_for_selector("#suggestion:not([hidden])", timeout=10_000)
    log = _log(page)
    fetches = [e for e in log if e["kind"] == "fetch"]
    last_input = max(e["t"] for e in log if e["kind"] == "input")
    assert len(fetches) == 1 and json.loads(fetches[0]["body"]) == {"inputs": text}
    assert fetches[0]["t"] - last_input >= 1500 - 1  # the pause, measured inside the page
    assert rec.texts == [text]

    suggested = page.text_content("#suggested-label")
    assert page.input_value("#category") == suggested
    assert page.is_hidden("#manual-hint")
    other = "feedback" if suggested != "feedback" else "contact"
    page.select_option("#category", other)  # the user corrects the suggestion
    page.fill("#subject", "Broken item")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ticket-form.png"), full_page=True)
    page.click("#submit")
    page.wait_for_selector("#result[data-ticket-id]", timeout=10_000)
    ticket_id = int(page.get_attribute("#result", "data-ticket-id"))
    ticket = service["zendesk"].ticket(ticket_id)
    assert ticket["description"] == text and ticket["subject"] == "Broken item"
    assert f"triage_{other}" in ticket["tags"] and "triage_classified" in ticket["tags"]
    assert "triage_user_override" in ticket["tags"]
    assert rec.origins == [service["url"]]  # the browser's own Origin, which the token is bound to
    page.screenshot(path=str(ARTIFACTS / "ticket-form-submitted.png"), full_page=True)


def test_newer_keystroke_cancels_stale_request(page, service):
    rec = service["recorder"]
    failed = []
    page.on("requestfailed", lambda r: failed.append((r.url, r.failure)))
    first = service["confident"] + SLOW_MARK
    page.type("#description", first, delay=20)
    deadline = time.monotonic() + 10
    while not rec.texts and time.monotonic() < deadline:  # the slow request has reached the server
        page.wait_for_timeout(100)
    assert rec.texts == [first]
    page.type("#description", " thanks", delay=20)  # newer keystrokes while it is in flight
    final = first + " thanks"
    page.wait_for_selector(f"#category-block[data-for-length='{len(final)}']", timeout=10_000)
    page.wait_for_timeout(SLOW_S * 1000)  # long enough for the stale answer to have arrived
    assert page.get_attribute("#category-block", "data-for-length") == str(len(final))
    assert rec.texts == [first, final]
    assert any("/v1/classify" in url for url, _ in failed), failed  # aborted by AbortController


def test_low_confidence_shows_manual_picker(page, service):
    text = service["unsure"]
    page.type("#description", text, delay=10)
    page.wait_for_selector("#manual-hint:not([hidden])", timeout=10_000)
    assert page.get_attribute("#category-block", "data-decision") == "needs_review"
    assert page.is_hidden("#suggestion")
    assert page.input_value("#category") == ""  # no category forced on the user
    assert page.is_disabled("#submit")
    page.select_option("#category", "delivery")
    assert page.is_enabled("#submit")
    page.click("#submit")
    page.wait_for_selector("#result[data-ticket-id]", timeout=10_000)
    ticket = service["zendesk"].ticket(int(page.get_attribute("#result", "data-ticket-id")))
    assert "triage_delivery" in ticket["tags"] and "triage_user_override" not in ticket["tags"]
