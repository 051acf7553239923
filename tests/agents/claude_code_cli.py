"""Run the real Claude Code CLI, headless and offline, against the proxy in front of a fake
upstream (issue 14). Not collected by pytest (it needs the CLI, ~240 MB from npm):

    npm install --prefix /tmp/cc @anthropic-ai/claude-code
    PYTHONPATH=. python -m tests.agents.claude_code_cli \\
        --claude /tmp/cc/node_modules/@anthropic-ai/claude-code-linux-x64/claude --kind anthropic

Everything listens on 127.0.0.1; the CLI runs with the switches of
/work/shared/agent-clients.md (no telemetry, updates or feature flags), a fresh HOME, stdin
closed and a hard timeout. `--kind` picks the fake behind the public model `smart`:
anthropic (passthrough; the scripted upstream, which takes Claude Code's beta fields that
the strict fake Anthropic would refuse), openai or gemini (translated, their fakes). With
`--tools` (anthropic) the upstream first calls the CLI's Read tool on a file in its cwd,
so the CLI runs it and sends the tool_result back (a round trip).
Exit status 0 when the CLI's JSON result carries the upstream's text.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from proxy.app import build_app
from proxy.config import parse_config
from proxy.http_protocol import CoalescingHttpToolsProtocol
from tests.fakes.formats import ANTHROPIC, GEMINI_KEY, PROVIDER_KEY
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI
from tests.fakes.scripted import Recorded, Script, ScriptedUpstream
from tests.servers import RunningServer

CLIENT_KEY = "cli-client-key-0123456789"
TIMEOUT = 120.0
QUIET = [
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
    "DISABLE_TELEMETRY",
    "DISABLE_ERROR_REPORTING",
    "DISABLE_AUTOUPDATER",
    "DISABLE_UPDATES",
    "DISABLE_BUG_COMMAND",
    "DISABLE_GROWTHBOOK",
    "CLAUDE_CODE_DISABLE_FEATURE_FLAGS",
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL",
    "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY",
    "DISABLE_INSTALLATION_CHECKS",
]
EXPECTED = {
    "anthropic": "w0 w1 w2",
    "openai": "w0 w1 w2",  # the fake OpenAI's stream (Claude Code always streams)
    "gemini": "Hello from fake Gemini.",
}


class Upstream:
    """The fake behind `smart`: (its root URL, the provider mapping, requests seen, stop)."""

    def __init__(self, kind: str, note: str) -> None:
        self.fake: Any
        if kind == "anthropic":
            self.fake = ScriptedUpstream(ANTHROPIC, choose=lambda r: _script(r, note)).start()
            self.url, self._stop = self.fake.url, self.fake.stop
            self.spec = {"type": "anthropic", "api_key": PROVIDER_KEY}
            return
        self.fake = FakeOpenAI() if kind == "openai" else FakeGemini(GEMINI_KEY)
        server = RunningServer(self.fake.app()).start()
        self.url, self._stop = server.url, server.stop
        if kind == "openai":
            self.url += "/v1"
        key = "fake-openai-key" if kind == "openai" else GEMINI_KEY
        self.spec = {"type": kind, "api_key": key}

    def stop(self) -> None:
        self._stop()


def _script(record: Recorded, note: str) -> Script:
    """A tool call to Read on the first request that asks for one, then the words."""
    messages = record.body.get("messages") or [] if isinstance(record.body, dict) else []
    last = messages[-1]["content"] if messages else ""
    replied = isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)
    if "[scenario:tools]" not in json.dumps(messages) or replied:
        return Script()
    call = {"type": "tool_use", "id": "toolu_cli_1", "name": "Read", "input": {}}
    arguments = json.dumps({"file_path": note})
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_cli",
                "type": "message",
                "role": "assistant",
                "model": "claude-scripted",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": call},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": arguments},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 5},
        },
        {"type": "message_stop"},
    ]
    return Script(events=[ANTHROPIC.frame(json.dumps(e).encode(), e["type"]) for e in events])


def run(claude: str, kind: str, tools: bool) -> int:
    home = tempfile.mkdtemp(prefix="cc-home-")
    note = os.path.join(home, "note.txt")
    with open(note, "w", encoding="utf-8") as f:
        f.write("the note says: proxied\n")
    upstream = Upstream(kind, note)
    spec = upstream.spec
    yaml = (
        f"providers:\n  up: {{type: {spec['type']}, base_url: '{upstream.url}', "
        f"api_key: '{spec['api_key']}'}}\n"
        "models:\n  smart: [{provider: up, model: upstream-model}]\n"
        f"auth:\n  api_keys: ['{CLIENT_KEY}']\n"
    )
    proxy = RunningServer(build_app(parse_config(yaml, {})), http=CoalescingHttpToolsProtocol)
    proxy.start()
    prompt = "Say hello" + (" [scenario:tools]" if tools else "")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        **dict.fromkeys(QUIET, "1"),
        "CLAUDE_CODE_MAX_RETRIES": "1",
        "API_TIMEOUT_MS": "45000",
        "ANTHROPIC_BASE_URL": proxy.url,
        "ANTHROPIC_AUTH_TOKEN": CLIENT_KEY,
        # Side requests (titles, quota checks) go to the small model: the same one.
        "ANTHROPIC_SMALL_FAST_MODEL": "smart",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "smart",
    }
    command = [claude, "-p", prompt, "--output-format", "json", "--model", "smart"]
    command += ["--allowedTools", "Read"] if tools else []
    try:
        done = subprocess.run(
            command,
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        proxy.stop()
        upstream.stop()
        shutil.rmtree(home, ignore_errors=True)
    print(done.stdout.decode(errors="replace")[-3000:])
    print(done.stderr.decode(errors="replace")[-2000:], file=sys.stderr)
    print(f"upstream requests: {len(upstream.fake.requests)}", file=sys.stderr)
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        return 1
    text = str(result.get("result", ""))
    ok = EXPECTED[kind] in text and not result.get("is_error")
    if tools:  # the file's text went back up in a tool_result
        ok = ok and "the note says: proxied" in json.dumps(upstream.fake.requests[-1].body)
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claude", required=True, help="path of the claude binary")
    parser.add_argument("--kind", choices=sorted(EXPECTED), default="anthropic")
    parser.add_argument("--tools", action="store_true", help="one tool round trip")
    args = parser.parse_args()
    sys.exit(run(args.claude, args.kind, args.tools))


if __name__ == "__main__":
    main()
