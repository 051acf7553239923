"""The real Codex CLI (npm `@openai/codex`), headless and offline, against the proxy in front
of fake upstreams of each kind: it answers with the fake's text, and a tool round trip (the
fake asks for a function call, Codex runs it and sends its output back) completes.

Skipped unless CODEX_BIN names the `codex` executable (it is not a project dependency):
    npm install --prefix /tmp/codex @openai/codex
    CODEX_BIN=/tmp/codex/node_modules/.bin/codex pytest tests/e2e/test_codex_cli.py
Configured as /work/shared/agent-clients.md says: a fresh CODEX_HOME per run whose
config.toml turns off updates, plugins, analytics, feedback and telemetry, stdin closed, a
hard timeout; the only base URL it knows is the proxy's on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CLIENT_KEY
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.formats import GEMINI_KEY
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI

CODEX = os.environ.get("CODEX_BIN", "")
pytestmark = pytest.mark.skipif(not CODEX, reason="set CODEX_BIN to run the real Codex CLI")
RUN_TIMEOUT = 120
CONFIG = """\
model = "{model}"
model_provider = "gateway"
check_for_update_on_startup = false
web_search = "disabled"  # a hosted tool: no translation to anthropic or gemini

[model_providers.gateway]
name = "gateway"
base_url = "{url}/v1"
env_key = "GATEWAY_KEY"
wire_api = "responses"
supports_websockets = false
request_max_retries = 1
stream_max_retries = 1

[features]
plugins = false

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
trace_exporter = "none"
metrics_exporter = "none"
"""
# What each fake says (tests/fakes/*.py): plain, and after the tool round trip, quoting the
# output Codex sent back. Only the fake OpenAI calls exec_command with arguments it can run
# (the command's output comes back); the others call their fixture tool, which Codex answers
# with an error output: a round trip all the same.
ANSWERS = {
    "gpt": ("Hello from the fake upstream.", "fake-tool-ok"),
    "claude": ("Hello! How can I help you today?", "Tool results: toolu_"),
    "gem": ("Hello from fake Gemini.", "Tool said: exec_command="),
}


@pytest.fixture
def proxy_url(serve: Callable[..., str], start_proxy: Callable[..., str]) -> str:
    gpt, claude, gem = FakeOpenAI(), FakeAnthropic(api_key="ak"), FakeGemini(GEMINI_KEY)
    urls = [serve(fake.app()) for fake in (gpt, claude, gem)]
    return start_proxy(
        f"""
providers:
  openai: {{type: openai, base_url: "{urls[0]}/v1", api_key: "ok"}}
  anthropic: {{type: anthropic, base_url: "{urls[1]}", api_key: "ak"}}
  gemini: {{type: gemini, base_url: "{urls[2]}", api_key: "{GEMINI_KEY}", drop_unsupported: true}}
models:
  gpt: [{{provider: openai, model: gpt-5}}]
  claude: [{{provider: anthropic, model: claude-sonnet-4-5}}]
  gem: [{{provider: gemini, model: gemini-2.5-flash}}]
"""
    )


def codex(url: str, model: str, prompt: str, home: Path) -> subprocess.CompletedProcess[str]:
    (home / "config.toml").write_text(CONFIG.format(model=model, url=url))
    work = home / "work"
    work.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "CODEX_HOME": str(home)}
    return subprocess.run(
        [CODEX, "exec", "--skip-git-repo-check", prompt],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=work,
        env={**env, "GATEWAY_KEY": CLIENT_KEY},
        check=False,
    )


@pytest.mark.parametrize("model", sorted(ANSWERS))
def test_codex_answers_with_the_fakes_text(proxy_url: str, model: str, tmp_path: Path) -> None:
    done = codex(proxy_url, model, "Say hello.", tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert ANSWERS[model][0] in done.stdout


@pytest.mark.parametrize("model", sorted(ANSWERS))
def test_codex_tool_round_trip(proxy_url: str, model: str, tmp_path: Path) -> None:
    done = codex(proxy_url, model, "Run a command. [scenario:tools]", tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert ANSWERS[model][1] in done.stdout  # the second turn's answer
