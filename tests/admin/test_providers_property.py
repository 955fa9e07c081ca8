"""Property: whatever providers.json a client PUTs, the admin answers 200 and installs exactly it, or
answers 400 and leaves the working file and routing untouched; never a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.admin.conftest import ACME, Admin

_TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["acme", "m1", "ACME_API_KEY", "https://api.x.example/v1", ""]))
_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-5, 200_000), _TEXT, st.lists(_TEXT, max_size=2))
_MODEL = st.one_of(_VALUE, st.fixed_dictionaries({"id": _TEXT}, optional={"contextWindow": _VALUE, "aliases": _VALUE}))
_ENTRY = st.one_of(
    _VALUE,
    st.fixed_dictionaries(
        {"id": _TEXT, "baseUrl": _TEXT, "envKey": _TEXT, "defaultModel": _TEXT},
        optional={"models": st.lists(_MODEL, max_size=2), "wireApi": _TEXT, "shortcut": _TEXT, "features": _VALUE},
    ),
)


def test_a_put_installs_exactly_its_file_or_changes_nothing(tmp_path: Path) -> None:
    harness = Admin(tmp_path, providers=[ACME])
    baseline = {"providers": [ACME]}

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(entries=st.lists(_ENTRY, max_size=2))
    def check(entries: list[Any]) -> None:
        assert harness.api("PUT", "generic-providers", json=baseline).status_code == 200
        before = harness.providers_file.read_bytes()
        response = harness.api("PUT", "generic-providers", json={"providers": entries})
        assert response.status_code in (200, 400), response.text
        if response.status_code == 200:
            assert json.loads(harness.providers_file.read_bytes()) == {"providers": entries}
            assert response.json()["applied"] is True
        else:
            assert response.json()["error"]["message"]
            assert harness.providers_file.read_bytes() == before
            assert harness.gateway.router.route("acme-large").provider.id == "acme"

    with harness.client:
        check()
