"""Ring 1 for the store's pure parts: histogram accuracy, exact windows, the capture policy, rows."""

from __future__ import annotations

import base64
import hashlib
import math
import random

import pytest

from mimo2codex.errors import InvalidRequest
from mimo2codex.request_log import RequestRecord
from mimo2codex.store import histogram, rollup
from mimo2codex.store.capture import CapturePolicy, cap, parse_body_mode
from mimo2codex.store.preferences import check_setting
from mimo2codex.store.row import codex_version, record_to_row


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("shape", ["lognormal", "uniform", "bimodal"])
def test_histogram_percentiles_within_ten_percent_of_exact(seed: int, shape: str) -> None:
    rng = random.Random(seed)
    if shape == "lognormal":
        values = [rng.lognormvariate(6.5, 1.2) for _ in range(20_000)]
    elif shape == "uniform":
        values = [rng.uniform(5, 90_000) for _ in range(20_000)]
    else:
        values = [rng.gauss(300, 30) if rng.random() < 0.8 else rng.gauss(40_000, 4_000) for _ in range(20_000)]
    values = [max(1.0, v) for v in values]
    # Split over several rollups and merged back, as a window's hours are.
    parts: list[histogram.Histogram] = [{} for _ in range(7)]
    for i, v in enumerate(values):
        histogram.add(parts[i % 7], v)
    merged: histogram.Histogram = {}
    for part in parts:
        merged = histogram.merge(merged, histogram.decode(histogram.encode(part)))
    for q in (0.5, 0.95, 0.99):
        estimate = histogram.percentile(merged, q)
        assert estimate is not None
        assert abs(estimate - exact(values, q)) / exact(values, q) < 0.10, (q, estimate, exact(values, q))


def test_histogram_edges() -> None:
    assert histogram.percentile({}, 0.5) is None
    assert histogram.bucket_of(0) == 0
    assert histogram.bucket_of(0.4) == 0
    assert histogram.bucket_of(10**12) == histogram.MAX_BUCKET
    assert histogram.decode(None) == {}
    assert histogram.decode({"3": 2}) == {3: 2}


def _row(ts: int, duration: int, **extra: object) -> dict[str, object]:
    return {"ts": ts, "provider_id": "p", "client_model": "c", "upstream_model": "u", "status_code": 200,
            "duration_ms": duration, "ttft_ms": duration // 2, "prompt_tokens": 3, **extra}  # fmt: skip


def test_window_parts_cover_the_window_exactly() -> None:
    rng = random.Random(7)
    for _ in range(300):
        since = rng.randrange(0, 50 * rollup.HOUR_MS)
        until = since + rng.randrange(0, 30 * rollup.HOUR_MS)
        parts = rollup.window_parts(since, until)
        covered = (parts.end_hour - parts.first_hour) + sum(end - start for start, end in parts.edges)
        assert covered == until - since
        assert parts.first_hour % rollup.HOUR_MS == 0
        assert parts.end_hour % rollup.HOUR_MS == 0
        for start, end in parts.edges:
            assert since <= start < end <= until
            assert end <= parts.first_hour or start >= parts.end_hour or parts.first_hour == parts.end_hour


def test_rollup_round_trip_and_report() -> None:
    rows = [_row(1_000 + i * 60_000, 100 + i) for i in range(120)]
    rows.append(_row(2_000, 5, status_code=429, error_code="rate_limit_exceeded"))
    rows.append(_row(3_000, 5, outcome="cancelled"))
    deltas = rollup.fold(rows)
    assert sorted(k[0] for k in deltas) == [0, rollup.HOUR_MS]
    stored = [(k, rollup.Rollup.from_columns(v.to_columns())) for k, v in deltas.items()]
    report = rollup.report(stored, 0, 2 * rollup.HOUR_MS)
    assert report["requests"] == 122
    assert report["errors"] == 1
    assert report["cancelled"] == 1
    assert report["errors_by_code"] == {"rate_limit_exceeded": 1}
    assert report["prompt_tokens"] == 366
    assert report["by_provider"][0]["provider_id"] == "p"
    series = rollup.series(stored, 0, 3 * rollup.HOUR_MS, rollup.HOUR_MS)
    assert [point["requests"] for point in series] == [62, 60, 0]


def test_capture_policy_modes() -> None:
    ok = RequestRecord("r", "/v1/responses", 0.0, False)
    failed = RequestRecord("r", "/v1/responses", 0.0, False, status=429)
    stream_failed = RequestRecord("r", "/v1/responses", 0.0, True, error_code="upstream_unavailable")
    errors_only = CapturePolicy("errors-only")
    assert not errors_only.wants(ok)
    assert errors_only.wants(failed)
    assert errors_only.wants(stream_failed)
    assert CapturePolicy("full").wants(ok)
    assert not CapturePolicy("off").wants(failed)
    assert not CapturePolicy("off").keeps_references
    assert errors_only.keeps_references
    assert parse_body_mode(" Full ") == "full"
    with pytest.raises(ValueError, match="must be one of off, errors-only, full"):
        parse_body_mode("some")


def test_capture_redacts_caps_and_digests_images() -> None:
    image = b"\x89PNG" + bytes(range(256)) * 40
    data_url = "data:image/png;base64," + base64.b64encode(image).decode()
    body = {
        "input": [{"type": "input_image", "image_url": data_url}],
        "note": "my key sk-known-secret-value-123 and tok-xyz-inbound-000",
    }
    policy = CapturePolicy.build("full", 1 << 20, ["sk-known-secret-value-123", "tok-xyz-inbound-000"])
    text = policy.render(body)
    assert text is not None
    digest = hashlib.sha256(image).hexdigest()[:12]
    assert f"[image: {len(image)} bytes, sha256 {digest}]" in text
    assert "sk-known-secret-value-123" not in text
    assert "tok-xyz-inbound-000" not in text
    assert "base64" not in text
    cut = cap("é" * 100, 51)
    assert cut.startswith("é" * 25)
    assert cut.endswith("…[cut: 200 bytes, kept 51]")
    small = CapturePolicy.build("full", 64, ["sk-known-secret-value-123"])
    rendered = small.render(b"x" * 60 + b"sk-known-secret-value-123")
    assert rendered is not None
    assert "sk-known" not in rendered
    assert "[cut:" in rendered


def test_record_to_row_columns() -> None:
    rec = RequestRecord("req_1", "/v1/responses", 1000.5, True, client_model="gpt-5", status=200)
    rec.upstream_attempts, rec.user_agent, rec.first_event_ms, rec.duration_ms = (
        3,
        "codex_cli_rs/0.169.0 (Mac)",
        12.4,
        99.6,
    )
    rec.notes = {"vision": ["img"]}
    row = record_to_row(rec, CapturePolicy("errors-only"), "host:1")
    assert (row["ts"], row["retries"], row["codex_version"], row["ttft_ms"], row["duration_ms"]) == (
        1000500,
        2,
        "0.169.0",
        12,
        100,
    )
    assert row["notes"] == '{"vision":["img"]}'
    assert row["instance"] == "host:1"
    assert row["request_body"] is None
    assert codex_version("curl/8.0") is None
    assert codex_version("codex_exec/0.170.0-alpha.1 (Linux)") == "0.170.0-alpha.1"


def test_settings_allow_list() -> None:
    assert check_setting("log_bodies", "full") == "full"
    for name, value in (("api_key", "x"), ("nope", 1), ("log_max_mb", "10"), ("ui_theme", "Bearer abcdefghijklmnop")):
        with pytest.raises(InvalidRequest):
            check_setting(name, value)


def test_open_store_picks_the_backend_from_the_settings(tmp_path: object) -> None:
    from pathlib import Path

    from mimo2codex.settings import load_settings
    from mimo2codex.store import open_store
    from mimo2codex.store.sqlite import SqliteStore

    base = {
        "GENERIC_BASE_URL": "http://u.invalid/v1",
        "GENERIC_API_KEY": "sk-key-0123456789abc",
        "GENERIC_DEFAULT_MODEL": "m",
    }
    assert isinstance(tmp_path, Path)
    default = open_store(load_settings({**base, "MIMO2CODEX_DATA_DIR": str(tmp_path)}))
    assert isinstance(default, SqliteStore)
    assert default.path == tmp_path / "data.db"
    assert default.policy.mode == "errors-only"
    assert "sk-key-0123456789abc" in default.policy.secrets
    other = open_store(load_settings({**base, "MIMO2CODEX_DATABASE_URL": f"sqlite:///{tmp_path}/other.db"}))
    assert isinstance(other, SqliteStore)
    assert other.path == tmp_path / "other.db"
    settings = load_settings(
        {**base, "MIMO2CODEX_DATABASE_URL": "postgresql://u:pw@127.0.0.1:9/db", "MIMO2CODEX_LOG_BODIES": "full"}
    )
    assert "pw" not in repr(settings.database_url)
    pg = open_store(settings)
    assert pg.backend == "postgresql"
    assert pg.policy.mode == "full"
    assert "pw" not in pg.state().location
    with pytest.raises(Exception, match="postgresql://"):
        load_settings({**base, "MIMO2CODEX_DATABASE_URL": "mysql://x"})
