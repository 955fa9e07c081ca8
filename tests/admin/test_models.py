"""Custom models and aliases: stored, listed with the catalog, honoured by routing at once."""

from __future__ import annotations

from tests.admin.conftest import ACME, Admin, chat_reply


def _route(admin: Admin, model: str) -> tuple[str, str]:
    admin.transport.replies.append(chat_reply())
    response = admin.ask(model)
    assert response.status_code == 200, response.text
    return response.headers["x-mimo2codex-provider"], admin.transport.requests[-1]["body"]["model"]


def test_custom_model_lifecycle(admin: Admin) -> None:
    catalog = admin.api("GET", "providers/deepseek/models").json()["models"]
    assert catalog
    assert all(m["is_builtin"] and m["id"] is None for m in catalog)
    assert _route(admin, "deepseek-v5-preview") == ("mimo", "mimo-v2.5-pro")  # nobody lists it yet

    created = admin.api(
        "POST",
        "providers/ds/models",
        json={"upstream_id": "deepseek-v5-preview", "context_window": 500000, "supports_images": True},
    )
    assert created.status_code == 201, created.text
    model = created.json()["model"]
    assert model["provider_id"] == "deepseek"
    assert model["is_builtin"] is False
    assert model["context_window"] == 500000
    assert _route(admin, "deepseek-v5-preview") == ("deepseek", "deepseek-v5-preview")
    listed = admin.api("GET", "providers/deepseek/models").json()["models"]
    assert listed[-1]["id"] == model["id"]
    assert "deepseek-v5-preview" in [m["id"] for m in admin.client.get("/v1/models").json()["data"]]

    patched = admin.api("PATCH", f"models/{model['id']}", json={"display_name": "V5 preview", "context_window": None})
    assert patched.status_code == 200
    assert patched.json()["model"]["display_name"] == "V5 preview"
    assert patched.json()["model"]["context_window"] is None

    assert admin.api("DELETE", f"models/{model['id']}").json() == {"deleted": True}
    assert _route(admin, "deepseek-v5-preview")[0] == "mimo"


def test_model_errors(admin: Admin) -> None:
    assert admin.api("GET", "providers/nobody/models").status_code == 404
    assert admin.api("POST", "providers/nobody/models", json={"upstream_id": "x"}).status_code == 404
    missing = admin.api("POST", "providers/mimo/models", json={"display_name": "no id"})
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "missing_upstream_id"
    assert admin.api("POST", "providers/mimo/models", json={"upstream_id": "mimo-v2.5"}).status_code == 409
    assert admin.api("POST", "providers/mimo/models", json={"upstream_id": "x", "colour": "red"}).status_code == 400
    assert (
        admin.api("POST", "providers/mimo/models", json={"upstream_id": "x", "context_window": "big"}).status_code
        == 400
    )
    assert admin.api("POST", "providers/mimo/models", json={"upstream_id": "x"}).status_code == 201
    assert admin.api("POST", "providers/mimo/models", json={"upstream_id": "x"}).status_code == 409
    assert admin.api("PATCH", "models/m-unknown", json={"display_name": "y"}).status_code == 404
    assert admin.api("DELETE", "models/m-unknown").status_code == 404
    assert admin.api("PATCH", "models/whatever", json={"supports_images": "yes"}).status_code == 400


def test_custom_model_on_an_open_catalog_keeps_it_open(tmp_path: object) -> None:
    from pathlib import Path

    open_acme = {key: value for key, value in ACME.items() if key != "models"}
    harness = Admin(Path(str(tmp_path)), {"MIMO2CODEX_DEFAULT_PROVIDER": "acme"}, providers=[open_acme])
    with harness.client:
        assert harness.api("POST", "providers/acme/models", json={"upstream_id": "acme-mini"}).status_code == 201
        assert _route(harness, "acme-mini") == ("acme", "acme-mini")
        assert _route(harness, "anything-else") == ("acme", "anything-else")  # still forwarded unchanged


def test_aliases(admin: Admin) -> None:
    assert admin.api("GET", "aliases").json() == {"aliases": []}
    created = admin.api(
        "POST", "aliases", json={"alias": "team/fast", "provider_id": "deepseek", "upstream_id": "deepseek-v4-flash"}
    )
    assert created.status_code == 201
    assert created.json() == {"alias": "team/fast"}
    assert _route(admin, "team/fast") == ("deepseek", "deepseek-v4-flash")
    assert admin.api("GET", "aliases").json()["aliases"] == [
        {"alias": "team/fast", "provider_id": "deepseek", "upstream_id": "deepseek-v4-flash"}
    ]
    assert admin.api("DELETE", "aliases/team/fast").json() == {"deleted": True}
    assert _route(admin, "team/fast")[0] == "mimo"
    assert admin.api("DELETE", "aliases/team/fast").status_code == 404
    unknown = admin.api("POST", "aliases", json={"alias": "a", "provider_id": "nobody", "upstream_id": "m"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "unknown_provider"
    missing = admin.api("POST", "aliases", json={"alias": "a", "provider_id": "mimo"})
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "missing_fields"
