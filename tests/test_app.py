"""The composed app: what it exposes by default (issue 16, item 14)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

CONFIG = """
providers:
  m: {type: mock}
models: {demo: [{provider: m, model: x}]}
"""


def test_a_trailing_slash_is_a_404_not_a_redirect_to_the_callers_host(
    start_proxy: Callable[..., str],
) -> None:
    url = start_proxy(CONFIG)
    response = httpx.get(
        f"{url}/v1/models/", headers={"host": "evil.example"}, follow_redirects=False
    )
    assert response.status_code == 404
    assert "location" not in response.headers
    assert response.json()["error"]["code"] == "unknown_route"
