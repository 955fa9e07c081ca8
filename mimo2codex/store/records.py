"""Models, aliases, settings and stored responses on SQLite (a mixin of :class:`SqliteStore`).

These are small tables written from the admin console, the CLI or a ``store: true`` request, so each
call takes a short-lived connection of its own instead of the log writer's queue: the caller needs
the write done (and visible to the next request) when it returns.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from mimo2codex.errors import InvalidRequest
from mimo2codex.store.base import StoredResponse
from mimo2codex.store.pending import response_from_row, response_values
from mimo2codex.store.preferences import check_setting

PUT_RESPONSE = (
    "INSERT OR REPLACE INTO stored_responses (id, response, input_items, history, created_ms, expires_ms) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def put_responses_sql(rows: int) -> str:
    """:data:`PUT_RESPONSE` for ``rows`` responses (applied in order: a later put of an id wins)."""
    return PUT_RESPONSE.replace("(?, ?, ?, ?, ?, ?)", ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows))


def delete_responses_sql(ids: int) -> str:
    return f"DELETE FROM stored_responses WHERE id IN ({', '.join('?' * ids)})"


_MODEL_FIELDS = ("id", "provider_id", "upstream_model", "display_name")


def _text_field(value: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    found = value.get(name)
    if found is None and not required:
        return None
    if not isinstance(found, str) or not found.strip():
        raise InvalidRequest(f"{name} must be a non-empty string", param=name)
    return found.strip()


class RecordTables:
    clock: Callable[[], float] = time.time

    # provided by the backend
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def _admin(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _scrub_known(self, value: Any) -> str:
        raise NotImplementedError

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _execute(self, sql: str, params: Sequence[Any]) -> int:
        conn = self._admin()
        try:
            return int(conn.execute(sql, params).rowcount)
        finally:
            conn.close()

    # -- models ------------------------------------------------------------------------------
    @staticmethod
    def _model_out(row: Mapping[str, Any]) -> dict[str, Any]:
        data = orjson.loads(row["data"]) if row.get("data") else {}
        return {
            **data,
            **{name: row[name] for name in _MODEL_FIELDS},
            "created_ms": row["created_ms"],
            "updated_ms": row["updated_ms"],
        }

    def models(self) -> list[dict[str, Any]]:
        return [self._model_out(row) for row in self._rows("SELECT * FROM models ORDER BY id")]

    def put_model(self, model: Mapping[str, Any]) -> dict[str, Any]:
        model_id = _text_field(model, "id")
        provider_id = _text_field(model, "provider_id")
        upstream = _text_field(model, "upstream_model")
        display = _text_field(model, "display_name", required=False)
        extra = {k: v for k, v in model.items() if k not in (*_MODEL_FIELDS, "created_ms", "updated_ms")}
        now = self._now_ms()
        self._execute(
            "INSERT INTO models (id, provider_id, upstream_model, display_name, data, created_ms, updated_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET provider_id = excluded.provider_id, "
            "upstream_model = excluded.upstream_model, display_name = excluded.display_name, data = excluded.data, "
            "updated_ms = excluded.updated_ms",
            (model_id, provider_id, upstream, display, self._scrub_known(extra), now, now),
        )
        found = list(self._rows("SELECT * FROM models WHERE id = ?", (model_id,)))
        return self._model_out(found[0])

    def delete_model(self, model_id: str) -> bool:
        return self._execute("DELETE FROM models WHERE id = ?", (model_id,)) > 0

    # -- aliases -----------------------------------------------------------------------------
    def aliases(self) -> list[dict[str, Any]]:
        return list(
            self._rows("SELECT alias, provider_id, upstream_model, updated_ms FROM model_aliases ORDER BY alias")
        )

    def put_alias(self, alias: str, provider_id: str, upstream_model: str) -> dict[str, Any]:
        values = {"alias": alias, "provider_id": provider_id, "upstream_model": upstream_model}
        for name in values:
            _text_field(values, name)
        now = self._now_ms()
        self._execute(
            "INSERT OR REPLACE INTO model_aliases (alias, provider_id, upstream_model, updated_ms) VALUES (?, ?, ?, ?)",
            (alias.strip(), provider_id.strip(), upstream_model.strip(), now),
        )
        return {
            "alias": alias.strip(),
            "provider_id": provider_id.strip(),
            "upstream_model": upstream_model.strip(),
            "updated_ms": now,
        }

    def delete_alias(self, alias: str) -> bool:
        return self._execute("DELETE FROM model_aliases WHERE alias = ?", (alias,)) > 0

    # -- settings ----------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        return {
            row["key"]: orjson.loads(row["value"]) for row in self._rows("SELECT key, value FROM settings ORDER BY key")
        }

    def put_setting(self, key: str, value: Any) -> None:
        checked = check_setting(key, value)
        self._execute(
            "INSERT OR REPLACE INTO settings (key, value, updated_ms) VALUES (?, ?, ?)",
            (key, orjson.dumps(checked).decode(), self._now_ms()),
        )

    def delete_setting(self, key: str) -> bool:
        return self._execute("DELETE FROM settings WHERE key = ?", (key,)) > 0

    # -- stored responses --------------------------------------------------------------------
    def _response_values(self, stored: StoredResponse) -> tuple[Any, ...]:
        return response_values(stored, self._scrub_known, self._now_ms())

    def _stored_response(self, response_id: str) -> StoredResponse | None:
        rows = self._rows("SELECT * FROM stored_responses WHERE id = ?", (response_id,))
        return next((response_from_row(row, self._now_ms()) for row in rows), None)

    def _delete_stored_response(self, response_id: str) -> bool:
        return self._execute("DELETE FROM stored_responses WHERE id = ?", (response_id,)) > 0
