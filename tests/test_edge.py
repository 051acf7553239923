"""The edge's refusals (overload, drain) come in the shape of the surface a path belongs
to: OpenAI's on /v1/chat/completions, Anthropic's on /v1/messages (issue 14)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from proxy.app import build_app
from proxy.config import parse_config
from tests.conftest import CLIENT_KEY

YAML = """
providers:
  m: {type: mock}
models:
  demo: [{provider: m, model: mock-1}]
auth:
  api_keys: ["${PROXY_API_KEY}"]
"""


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/v1/chat/completions", lambda b: b["error"]["code"] == "shutting_down"),
        (
            "/v1/messages",
            lambda b: b["type"] == "error" and b["error"]["type"] == "overloaded_error",
        ),
        ("/v1/messages/count_tokens", lambda b: b["error"]["type"] == "overloaded_error"),
    ],
)
def test_drain_refusal_in_the_surface_shape(
    serve: Callable[..., str], path: str, shape: Callable[[dict[str, object]], bool]
) -> None:
    edge = build_app(parse_config(YAML, {"PROXY_API_KEY": CLIENT_KEY}))
    url = serve(edge)
    edge.lifecycle.draining = True  # what begin_drain sets, without its log line and timer
    answer = httpx.post(f"{url}{path}", json={}, headers={"x-api-key": CLIENT_KEY}, timeout=10)
    assert answer.status_code == 503
    assert shape(answer.json())
