"""The composed app: what it exposes by default (issue 16, item 14)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

CONFIG = """
providers:
  m: {type: mock}
models: {demo: [{provider: m, model: x}]}
"""


# Paths that exist without the slash: Starlette would redirect them to http://<Host>/...
# (/v1/models/ itself is now GET /v1/models/{model}, the model lookup, so it is not one.)
@pytest.mark.parametrize("path", ["/health/live/", "/v1/chat/completions/", "/admin/reload/"])
def test_a_trailing_slash_is_a_404_not_a_redirect_to_the_callers_host(
    start_proxy: Callable[..., str], path: str
) -> None:
    url = start_proxy(CONFIG)
    response = httpx.get(f"{url}{path}", headers={"host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 404
    assert "location" not in response.headers
    assert response.json()["error"]["code"] == "unknown_route"
