"""The served OpenAPI document describes what the endpoint really answers."""

import jsonschema_rs
import requests

from plugin.apikeys import KeyStore

from .conftest import make_app, serving


def _validator(doc, ref):
    return jsonschema_rs.Draft202012Validator({"$ref": ref, "components": doc["components"]})


def _response_schema(doc, status):
    media = doc["paths"]["/v1/classify"]["post"]["responses"][status]["content"]["application/json"]
    return jsonschema_rs.Draft202012Validator({**media["schema"], "components": doc["components"]})


def test_document_matches_responses(tmp_path):
    app = make_app(tmp_path, classify_rate_per_minute=4)
    _, token = KeyStore.for_instance(app.config["SETTINGS"].instance_dir).create("t")
    auth = {"Authorization": f"Bearer {token}"}
    with serving(app) as url:
        doc = requests.get(f"{url}/v1/openapi.json").json()
        assert doc["openapi"].startswith("3.") and doc["servers"][0]["url"] == url
        op = doc["paths"]["/v1/classify"]["post"]
        assert op["security"] == [{"bearerAuth": []}]
        labels = doc["components"]["schemas"]["Prediction"]["properties"]["label"]["enum"]
        assert "billing" in labels and "other" in labels
        request_schema = jsonschema_rs.Draft202012Validator(
            op["requestBody"]["content"]["application/json"]["schema"])
        assert request_schema.is_valid({"inputs": "text", "parameters": {"top_k": 2}})
        assert not request_schema.is_valid({"inputs": 3})
        assert not request_schema.is_valid({"parameters": {}})

        ok = _response_schema(doc, "200")
        plain = requests.post(f"{url}/v1/classify", json={"inputs": ["refund please now", "hi"]}, headers=auth)
        ext = requests.post(f"{url}/v1/classify?extended=1", json={"inputs": "refund please"}, headers=auth)
        assert ok.is_valid(plain.json()) and ok.is_valid(ext.json())
        assert _validator(doc, "#/components/schemas/Predictions").is_valid(plain.json())
        assert not _validator(doc, "#/components/schemas/Predictions").is_valid([{"label": "billing", "score": 1}])
        assert _validator(doc, "#/components/schemas/Extended").is_valid(ext.json())
        for status, resp in [
            ("400", requests.post(f"{url}/v1/classify", json={"inputs": 3}, headers=auth)),
            ("401", requests.post(f"{url}/v1/classify", json={"inputs": "x"})),
        ]:
            assert str(resp.status_code) == status
            assert _response_schema(doc, status).is_valid(resp.json())
        for _ in range(3):
            last = requests.post(f"{url}/v1/classify", json={"inputs": "x y z"}, headers=auth)
        assert last.status_code == 429 and _response_schema(doc, "429").is_valid(last.json())
        assert "Retry-After" in op["responses"]["429"]["headers"]


def test_document_allows_anonymous_when_configured(tmp_path):
    with serving(make_app(tmp_path, classify_require_key=False)) as url:
        doc = requests.get(f"{url}/v1/openapi.json").json()
    assert {} in doc["paths"]["/v1/classify"]["post"]["security"]
