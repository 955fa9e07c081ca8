"""Models, aliases, settings and stored responses on PostgreSQL (a mixin of :class:`PostgresStore`).

The same tables, checks and shapes as the SQLite mixin (:mod:`mimo2codex.store.records`); each call
is one autocommit statement on a pooled connection, so every instance sharing the database sees the
change as soon as the call returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from mimo2codex.store.base import StoredResponse
from mimo2codex.store.pending import response_from_row, response_values
from mimo2codex.store.preferences import check_setting
from mimo2codex.store.records import _MODEL_FIELDS, RecordTables, _text_field


class PgRecordTables:
    clock: Callable[[], float] = time.time

    # provided by the backend
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        raise NotImplementedError

    def _scrub_known(self, value: Any) -> str:
        raise NotImplementedError

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- models ------------------------------------------------------------------------------
    def models(self) -> list[dict[str, Any]]:
        return [RecordTables._model_out(row) for row in self._query("SELECT * FROM models ORDER BY id")]

    def put_model(self, model: Mapping[str, Any]) -> dict[str, Any]:
        model_id = _text_field(model, "id")
        provider_id = _text_field(model, "provider_id")
        upstream = _text_field(model, "upstream_model")
        display = _text_field(model, "display_name", required=False)
        extra = {k: v for k, v in model.items() if k not in (*_MODEL_FIELDS, "created_ms", "updated_ms")}
        now = self._now_ms()
        found = self._query(
            "INSERT INTO models (id, provider_id, upstream_model, display_name, data, created_ms, updated_ms) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET provider_id = excluded.provider_id, "
            "upstream_model = excluded.upstream_model, display_name = excluded.display_name, data = excluded.data, "
            "updated_ms = excluded.updated_ms RETURNING *",
            (model_id, provider_id, upstream, display, self._scrub_known(extra), now, now),
        )
        return RecordTables._model_out(found[0])

    def delete_model(self, model_id: str) -> bool:
        return self._execute("DELETE FROM models WHERE id = %s", (model_id,)) > 0

    # -- aliases -----------------------------------------------------------------------------
    def aliases(self) -> list[dict[str, Any]]:
        return self._query("SELECT alias, provider_id, upstream_model, updated_ms FROM model_aliases ORDER BY alias")

    def put_alias(self, alias: str, provider_id: str, upstream_model: str) -> dict[str, Any]:
        values = {"alias": alias, "provider_id": provider_id, "upstream_model": upstream_model}
        for name in values:
            _text_field(values, name)
        found = self._query(
            "INSERT INTO model_aliases (alias, provider_id, upstream_model, updated_ms) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (alias) DO UPDATE SET provider_id = excluded.provider_id, "
            "upstream_model = excluded.upstream_model, updated_ms = excluded.updated_ms "
            "RETURNING alias, provider_id, upstream_model, updated_ms",
            (alias.strip(), provider_id.strip(), upstream_model.strip(), self._now_ms()),
        )
        return found[0]

    def delete_alias(self, alias: str) -> bool:
        return self._execute("DELETE FROM model_aliases WHERE alias = %s", (alias,)) > 0

    # -- settings ----------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        rows = self._query("SELECT key, value FROM settings ORDER BY key")
        return {row["key"]: orjson.loads(row["value"]) for row in rows}

    def put_setting(self, key: str, value: Any) -> None:
        checked = check_setting(key, value)
        self._execute(
            "INSERT INTO settings (key, value, updated_ms) VALUES (%s, %s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
            (key, orjson.dumps(checked).decode(), self._now_ms()),
        )

    def delete_setting(self, key: str) -> bool:
        return self._execute("DELETE FROM settings WHERE key = %s", (key,)) > 0

    # -- stored responses (the writer thread puts them: see PostgresStore.put_response) -----
    def _response_values(self, stored: StoredResponse) -> tuple[Any, ...]:
        return response_values(stored, self._scrub_known, self._now_ms())

    def _stored_response(self, response_id: str) -> StoredResponse | None:
        rows = self._query("SELECT * FROM stored_responses WHERE id = %s", (response_id,))
        return next((response_from_row(row, self._now_ms()) for row in rows), None)

    def _delete_stored_response(self, response_id: str) -> bool:
        return self._execute("DELETE FROM stored_responses WHERE id = %s", (response_id,)) > 0


#: a batch's stored responses in one statement, each column an array (``%b``: sent in binary)
PUT_RESPONSES = (
    "INSERT INTO stored_responses (id, response, input_items, history, created_ms, expires_ms) "
    "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::int8[], %b::int8[]) "
    "ON CONFLICT (id) DO UPDATE SET response = excluded.response, "
    "input_items = excluded.input_items, history = excluded.history, created_ms = excluded.created_ms, "
    "expires_ms = excluded.expires_ms"
)
DELETE_RESPONSES = "DELETE FROM stored_responses WHERE id = ANY(%b::text[])"


def put_responses_params(values: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """The columns of :data:`PUT_RESPONSES` for rows of ``response_values``: one row per id, the last
    put of an id (one statement may not update a row twice; put in turn, the last one won)."""
    latest = {row[0]: row for row in values}
    return [list(column) for column in zip(*latest.values(), strict=True)]
