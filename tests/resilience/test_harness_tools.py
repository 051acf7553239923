"""The suite's own tools, checked against the real proxy: the toxic proxy in pass mode is
transparent, and the recorded provider transcripts (tests/fixtures/*/text/*.sse) replay
through the scripted fake both complete and, cut before their last event, truncated."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fakes.formats import ANTHROPIC, GEMINI, OPENAI, WireFormat
from tests.fakes.scripted import Script, ScriptedUpstream
from tests.resilience.harness import Gateway
from tests.resilience.toxic import Toxic

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECORDED = [
    pytest.param(ANTHROPIC, FIXTURES / "anthropic" / "text", id="anthropic"),
    pytest.param(GEMINI, FIXTURES / "gemini" / "text", id="gemini"),
]


def _events(folder: Path, fmt: WireFormat) -> list[bytes]:
    text = (folder / f"{fmt.name}_response.sse").read_bytes()
    return [e + b"\n\n" for e in re.split(rb"\r?\n\r?\n", text) if e.strip()]


def _expected_text(folder: Path) -> str:
    chunks = orjson.loads((folder / "openai_chunks.json").read_bytes())
    return "".join(
        (choice.get("delta") or {}).get("content") or ""
        for chunk in chunks
        for choice in chunk.get("choices") or []
    )


def test_toxic_pass_mode_is_transparent(
    fake_openai: Callable[..., Any], toxic: Callable[..., Toxic], gateway: Callable[..., Gateway]
) -> None:
    upstream, url = fake_openai(chunks=30)
    relay = toxic(int(url.rsplit(":", 1)[1]), mode="pass")
    gw = gateway({"primary": OPENAI.provider(relay.url)})
    result = gw.stream()
    assert result.done and result.content == "".join(f"w{i} " for i in range(30))
    assert gw.chat().status_code == 200
    assert relay.connections >= 1 and upstream.hits == 2


@pytest.mark.parametrize(("fmt", "folder"), RECORDED)
def test_recorded_transcript_replays_complete(
    scripted: Callable[..., ScriptedUpstream],
    gateway: Callable[..., Gateway],
    fmt: WireFormat,
    folder: Path,
) -> None:
    fake = scripted(fmt, Script(events=_events(folder, fmt), event_delay=0.02))
    gw = gateway({"primary": fmt.provider(fake.url)})
    result = gw.stream()
    assert result.status == 200 and result.done and not result.error_events
    assert result.content == _expected_text(folder)


@pytest.mark.parametrize(("fmt", "folder"), RECORDED)
def test_recorded_transcript_cut_before_last_event_is_truncated(
    scripted: Callable[..., ScriptedUpstream],
    gateway: Callable[..., Gateway],
    fmt: WireFormat,
    folder: Path,
) -> None:
    events = _events(folder, fmt)
    script = Script(events=events, event_delay=0.02, close_after=len(events) - 1)
    fake = scripted(fmt, script)
    gw = gateway({"primary": fmt.provider(fake.url)})
    result = gw.stream()
    assert result.status == 200 and not result.done_anywhere
    assert len(result.error_events) == 1
    assert result.error_events[0]["error"]["code"] == "upstream_truncated"
