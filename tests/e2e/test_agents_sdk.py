"""The OpenAI Agents SDK (`openai-agents`, Responses API by default) through the proxy to
fake upstreams of each kind: a plain answer and a function tool round trip run by the SDK.

Skipped unless the `agents` package is importable (it is not a project dependency)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import CLIENT_KEY
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.formats import GEMINI_KEY
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI

agents: Any = pytest.importorskip("agents")
openai = pytest.importorskip("openai")
MODELS = ["gpt", "claude", "gem"]


@pytest.fixture
def proxy_url(serve: Callable[..., str], start_proxy: Callable[..., str]) -> str:
    gpt, claude, gem = FakeOpenAI(), FakeAnthropic(api_key="ak"), FakeGemini(GEMINI_KEY)
    urls = [serve(fake.app()) for fake in (gpt, claude, gem)]
    return start_proxy(
        f"""
providers:
  openai: {{type: openai, base_url: "{urls[0]}/v1", api_key: "ok"}}
  anthropic: {{type: anthropic, base_url: "{urls[1]}", api_key: "ak"}}
  gemini: {{type: gemini, base_url: "{urls[2]}", api_key: "{GEMINI_KEY}"}}
models:
  gpt: [{{provider: openai, model: gpt-5}}]
  claude: [{{provider: anthropic, model: claude-sonnet-4-5}}]
  gem: [{{provider: gemini, model: gemini-2.5-flash}}]
"""
    )


def run(url: str, model: str, prompt: str, tools: list[Any]) -> Any:
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0)
    agents.set_tracing_disabled(True)  # traces go to OpenAI directly, not through the proxy
    agent = agents.Agent(
        name="helper",
        instructions="Be brief.",
        model=agents.OpenAIResponsesModel(model=model, openai_client=client),
        tools=tools,
    )
    return agents.Runner.run_sync(agent, prompt, max_turns=4)


@pytest.mark.parametrize("model", MODELS)
def test_plain_answer(proxy_url: str, model: str) -> None:
    result = run(proxy_url, model, "Hello", [])
    assert isinstance(result.final_output, str) and result.final_output


@pytest.mark.parametrize("model", MODELS)
def test_function_tool_round_trip(proxy_url: str, model: str) -> None:
    calls: list[str] = []

    @agents.function_tool  # type: ignore[untyped-decorator]
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        calls.append(city)
        return "sunny"

    result = run(proxy_url, model, "Weather in Paris? [scenario:tools]", [get_weather])
    assert calls
    assert "sunny" in result.final_output
