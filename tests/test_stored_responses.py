"""Stateful Responses with the openai SDK, on SQLite and on PostgreSQL: store, continue, read, delete.

The gateway runs on a real socket in front of the strict fake vendor; the store is the request log's
(SQLite in the test's data dir, or a fresh database of the session's throw-away PostgreSQL cluster).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from mimo2codex.settings import Settings
from mimo2codex.store import open_store
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply, StrictUpstream
from tests.live import LiveGateway, upstream_settings

pytestmark = pytest.mark.live

BACKENDS = ["sqlite", "postgresql"]


def echo_script(body: dict[str, Any], number: int) -> Reply:
    """Answers with what it was sent: the test reads the history the gateway built."""
    said = [str(m.get("content")) for m in body["messages"] if m["role"] in ("user", "assistant")]
    return Reply.text(f"answer {number} to: " + " | ".join(said))


@pytest.fixture
def upstream(start_upstream: StartUpstream) -> StrictUpstream:
    return start_upstream(echo_script)


@pytest.fixture(params=BACKENDS)
def settings_for(request: pytest.FixtureRequest, tmp_path: Path, upstream: StrictUpstream) -> Callable[..., Settings]:
    where = {"MIMO2CODEX_DATA_DIR": str(tmp_path)}
    if request.param == "postgresql":
        where["MIMO2CODEX_DATABASE_URL"] = request.getfixturevalue("postgres_url")

    def make(**env: str) -> Settings:
        return upstream_settings(upstream, **where, **env)

    make.backend = request.param  # type: ignore[attr-defined]
    return make


def sdk(gateway: LiveGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url, api_key="x", max_retries=0)


def test_store_continue_retrieve_list_delete(
    settings_for: Callable[..., Settings], upstream: StrictUpstream, start_gateway: StartGateway
) -> None:
    gateway = start_gateway(settings_for())
    status = httpx.get(f"http://127.0.0.1:{gateway.port}/", timeout=10).json()
    assert status["store"]["backend"] == settings_for.backend  # type: ignore[attr-defined]
    client = sdk(gateway)
    first = client.responses.create(model="fake-model", input="My name is Ada.", store=True)
    assert first.store is True
    second = client.responses.create(
        model="fake-model", input="What is my name?", previous_response_id=first.id, store=True
    )
    assert second.previous_response_id == first.id
    # The upstream saw the stored conversation: the first question, its answer, then the new one.
    seen = [(m["role"], m["content"]) for m in upstream.bodies[-1]["messages"]]
    assert seen == [("user", "My name is Ada."), ("assistant", first.output_text), ("user", "What is my name?")]

    again = client.responses.retrieve(first.id)
    assert (again.id, again.output_text, again.status) == (first.id, first.output_text, "completed")

    items = client.responses.input_items.list(second.id)
    assert [item.type for item in items.data] == ["message"]
    assert items.data[0].content[0].text == "What is my name?"
    assert items.first_id == items.last_id == items.data[0].id
    assert items.has_more is False

    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.retrieve(first.id)
    assert missing.value.body == {
        "message": f"Response with id '{first.id}' not found.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(first.id)
    with pytest.raises(openai.BadRequestError) as gone:
        client.responses.create(model="fake-model", input="hi", previous_response_id=first.id)
    assert gone.value.code == "previous_response_not_found"
    # The second response does not depend on the first one's row: it carries its own history.
    third = client.responses.create(model="fake-model", input="And now?", previous_response_id=second.id)
    assert "My name is Ada." in third.output_text
    assert "What is my name?" in third.output_text


def test_input_items_pages_in_both_orders(settings_for: Callable[..., Settings], start_gateway: StartGateway) -> None:
    client = sdk(start_gateway(settings_for()))
    inputs: Any = [{"role": "user", "content": f"part {n}"} for n in range(5)]
    created = client.responses.create(model="fake-model", input=inputs)  # no store field: OpenAI's default, kept
    page = client.responses.input_items.list(created.id, limit=2, order="asc")
    assert [i.content[0].text for i in page.data] == ["part 0", "part 1"]
    assert page.has_more is True
    every = [i.content[0].text for i in client.responses.input_items.list(created.id, limit=2, order="asc")]
    assert every == [f"part {n}" for n in range(5)]  # the SDK followed the cursor (after=last_id)
    newest = client.responses.input_items.list(created.id)
    assert [i.content[0].text for i in newest.data] == [f"part {n}" for n in reversed(range(5))]


def test_a_streamed_response_is_stored_before_its_stream_ends(
    settings_for: Callable[..., Settings], start_gateway: StartGateway
) -> None:
    client = sdk(start_gateway(settings_for()))
    with client.responses.stream(model="fake-model", input="stream me", store=True) as stream:
        final = stream.get_final_response()
    assert client.responses.retrieve(final.id).output_text == final.output_text


def test_store_false_keeps_nothing(settings_for: Callable[..., Settings], start_gateway: StartGateway) -> None:
    client = sdk(start_gateway(settings_for()))
    created = client.responses.create(model="fake-model", input="codex style", store=False)
    assert created.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="fake-model", input="x", previous_response_id=created.id)


def test_unknown_id_on_every_route(settings_for: Callable[..., Settings], start_gateway: StartGateway) -> None:
    client = sdk(start_gateway(settings_for()))
    for call in (
        lambda: client.responses.retrieve("resp_nope"),
        lambda: client.responses.delete("resp_nope"),
        lambda: client.responses.input_items.list("resp_nope"),
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            call()
        assert caught.value.status_code == 404


def test_a_stored_response_expires(tmp_path: Path, upstream: StrictUpstream, start_gateway: StartGateway) -> None:
    now = [1_000_000.0]
    settings = upstream_settings(upstream, MIMO2CODEX_DATA_DIR=str(tmp_path), MIMO2CODEX_STORED_RESPONSE_DAYS="1")
    store = open_store(settings, clock=lambda: now[0])
    store.open()
    try:
        client = sdk(start_gateway(settings, store=store))
        created = client.responses.create(model="fake-model", input="short-lived", store=True)
        now[0] = created.created_at + 2 * 86_400  # two days later, by the store's clock
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(created.id)
    finally:
        store.close()
