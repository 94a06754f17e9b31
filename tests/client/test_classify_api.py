"""/v1/classify through a real socket, with the real huggingface_hub clients."""

import asyncio

import pytest
import requests
from huggingface_hub import AsyncInferenceClient, InferenceClient
from huggingface_hub.errors import HfHubHTTPError

from plugin import formtoken
from plugin.apikeys import KeyStore
from simulators.openai_server import OpenAISimulator
from webhooks import client_auth

from .conftest import make_app, serving, serving_public_form

TEXT = "I want my money back for the broken blender I ordered last week"


def _labels(app):
    from plugin.taxonomy import load_taxonomy
    return set(load_taxonomy(app.config["SETTINGS"].taxonomy).names)


def test_hf_sync_client(app, base_url, classify_key):
    client = InferenceClient(base_url=f"{base_url}/v1/classify", api_key=classify_key)
    out = client.text_classification(TEXT)
    assert len(out) >= 2 and {o.label for o in out} <= _labels(app)
    scores = [o.score for o in out]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-9
    top = client.text_classification(TEXT, top_k=1)
    assert len(top) == 1 and top[0].label == out[0].label
    sig = client.text_classification(TEXT, function_to_apply="sigmoid")
    assert [o.label for o in sig] == [o.label for o in out]
    assert sig[0].score == pytest.approx(out[0].score / (1 + out[0].score))


def test_hf_async_client(app, base_url, classify_key):
    async def run():
        client = AsyncInferenceClient(base_url=f"{base_url}/v1/classify", api_key=classify_key)
        try:
            return await asyncio.gather(client.text_classification(TEXT, top_k=2),
                                        client.text_classification("How do I reset my password?"))
        finally:
            await client.close()
    first, second = asyncio.run(run())
    assert len(first) == 2 and first[0].score >= first[1].score
    assert {o.label for o in second} <= _labels(app)


def test_hf_client_sees_auth_errors(base_url):
    client = InferenceClient(base_url=f"{base_url}/v1/classify", api_key="trk_0123456789ab_nope")
    with pytest.raises(HfHubHTTPError) as err:
        client.text_classification(TEXT)
    assert err.value.response.status_code == 401


def test_batch_and_extended_form(app, base_url, classify_key):
    auth = {"Authorization": f"Bearer {classify_key}"}
    texts = [TEXT, "Please call me on +44 20 7946 0958, my card 4111 1111 1111 1111 was charged twice"]
    plain = requests.post(f"{base_url}/v1/classify", json={"inputs": texts}, headers=auth)
    assert plain.status_code == 200
    body = plain.json()
    assert isinstance(body, list) and len(body) == 2 and all(isinstance(inner, list) for inner in body)
    assert plain.headers["X-Triage-Model-Version"]
    ext = requests.post(f"{base_url}/v1/classify?extended=1", json={"inputs": texts}, headers=auth).json()
    assert ext["predictions"] == body
    d = ext["details"][1]
    assert d["classifier"] == "fallback" and d["decision"] in ("auto_apply", "suggest", "needs_review")
    assert d["pii_counts"].get("card") == 1 and d["pii_counts"].get("phone") == 1
    assert d["label"] == body[1][0]["label"] and "4111" not in str(ext)
    by_header = requests.post(f"{base_url}/v1/classify", json={"inputs": TEXT},
                              headers={**auth, "X-Triage-Extended": "1"}).json()
    assert set(by_header) == {"predictions", "details"}


def test_auth_errors_are_json(app, base_url):
    url = f"{base_url}/v1/classify"
    store = KeyStore.for_instance(app.config["SETTINGS"].instance_dir)
    cases = [({}, 401), ({"Authorization": "Basic abc"}, 401), ({"Authorization": "Bearer nope"}, 401)]
    admin_key, admin_token = store.create("ops", scope="admin")
    cases.append(({"Authorization": f"Bearer {admin_token}"}, 403))
    key, token = store.create("gone")
    store.revoke(key.key_id)
    cases.append(({"Authorization": f"Bearer {token}"}, 401))
    for headers, status in cases:
        resp = requests.post(url, json={"inputs": TEXT}, headers=headers)
        assert resp.status_code == status, headers
        assert resp.headers["Content-Type"].startswith("application/json") and resp.json()["error"]


def test_bad_body_size_and_rate_limit(tmp_path):
    app = make_app(tmp_path, classify_rate_per_minute=3, max_body_bytes=2048)
    _, token = KeyStore.for_instance(app.config["SETTINGS"].instance_dir).create("t")
    auth = {"Authorization": f"Bearer {token}"}
    with serving(app) as url:
        url += "/v1/classify"
        bad = requests.post(url, data=b"{not json", headers=auth)
        assert bad.status_code == 400 and "JSON" in bad.json()["error"]
        big = requests.post(url, json={"inputs": "x" * 5000}, headers=auth)
        assert big.status_code == 413 and big.json()["error"]
        assert requests.post(url, json={"inputs": ["a b c", "d e f"]}, headers=auth).status_code == 200
        assert requests.post(url, json={"inputs": TEXT}, headers=auth).status_code == 200
        limited = requests.post(url, json={"inputs": TEXT}, headers=auth)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert "rate limit" in limited.json()["error"]


def test_anonymous_only_when_keys_not_required(tmp_path):
    with serving(make_app(tmp_path, classify_require_key=False)) as url:
        assert requests.post(f"{url}/v1/classify", json={"inputs": TEXT}).status_code == 200
        assert requests.post(f"{url}/v1/classify", json={"inputs": TEXT},
                             headers={"Authorization": "Bearer bad"}).status_code == 401


def test_cors(tmp_path):
    app = make_app(tmp_path, cors_origins=["https://app.example.com"])
    with serving(app) as url:
        pre = requests.options(f"{url}/v1/classify", headers={
            "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert pre.status_code == 204
        assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert "authorization" in pre.headers["Access-Control-Allow-Headers"].lower()
        denied = requests.post(f"{url}/v1/classify", json={"inputs": TEXT},
                               headers={"Origin": "https://evil.example"})
        assert denied.status_code == 401 and "Access-Control-Allow-Origin" not in denied.headers
        allowed = requests.post(f"{url}/v1/classify", json={"inputs": TEXT},
                                headers={"Origin": "https://app.example.com"})
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert "Retry-After" in allowed.headers["Access-Control-Expose-Headers"]


def test_form_token_scope(tmp_path):
    with serving_public_form(tmp_path) as (app, base_url):
        _, classify_key = KeyStore.for_instance(app.config["SETTINGS"].instance_dir).create("test-app")
        with app.app_context():
            token = formtoken.issue(client_auth.form_secret(), base_url)
        form_auth = {"Authorization": f"Bearer {token}", "Origin": base_url}
        ok = requests.post(f"{base_url}/v1/classify", json={"inputs": TEXT}, headers=form_auth)
        assert ok.status_code == 200
        for origin in ("https://elsewhere.example", None):  # another origin, or none at all
            headers = {**form_auth, "Origin": origin} if origin else {"Authorization": form_auth["Authorization"]}
            assert requests.post(f"{base_url}/v1/classify", json={"inputs": TEXT}, headers=headers).status_code == 403
        # a classify key cannot create tickets through the form endpoint
        key_submit = requests.post(f"{base_url}/form/tickets", headers={"Authorization": f"Bearer {classify_key}"},
                                   json={"description": TEXT, "category": "refund"})
        assert key_submit.status_code == 403
        wrong = formtoken.issue(b"wrong secret", base_url)
        assert requests.post(f"{base_url}/v1/classify", json={"inputs": TEXT},
                             headers={"Authorization": f"Bearer {wrong}", "Origin": base_url}).status_code == 401


def test_require_key_is_never_bypassed_by_a_form_token_without_public_form(tmp_path):
    """classify_require_key = true (default) and no public origins: only a classify key gets in."""
    app = make_app(tmp_path, classify_require_key=True, cors_origins=["*"])
    with app.app_context():
        token = formtoken.issue(client_auth.form_secret(), "http://127.0.0.1")
    with serving(app) as url:
        for headers in ({}, {"Origin": url}, {"Authorization": f"Bearer {token}"},
                        {"Authorization": f"Bearer {token}", "Origin": "http://127.0.0.1"}):
            assert requests.post(f"{url}/v1/classify", json={"inputs": TEXT}, headers=headers).status_code in (401, 403)


def test_pii_is_redacted_before_the_llm(tmp_path):
    with OpenAISimulator() as llm:
        app = make_app(tmp_path, classifier="llm", llm_base_url=f"{llm.base_url}/v1", llm_model="sim",
                       llm_api_key="sk-test")
        _, token = KeyStore.for_instance(app.config["SETTINGS"].instance_dir).create("t")
        text = "Refund please: card 4111 1111 1111 1111, mail jane.doe@example.com, call +1 415 555 2671"
        with serving(app) as url:
            resp = requests.post(f"{url}/v1/classify?extended=1", json={"inputs": text},
                                 headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200
        assert resp.json()["details"][0]["classifier"] == "llm"
        assert llm.requests, "the LLM was not called"
        sent = str(llm.requests)
        for secret in ("4111 1111 1111 1111", "jane.doe@example.com", "555 2671"):
            assert secret not in sent
        assert "[CARD_1]" in sent and "[EMAIL_1]" in sent
