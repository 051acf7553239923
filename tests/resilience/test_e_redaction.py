"""Checklist E6: a provider key reflected by an upstream (or a WAF in front of it) never
reaches the client, whatever field carries it and wherever a cut falls.

Run once per wire format against one scripted fake whose error answers quote the key in
every field the adapter reads (OpenAI message, code, param; Anthropic error.type and
message; Gemini message and status), before the commit (an HTTP error) and after it (an
in-band error event). The Gemini key here is not shaped like a Google key, so only the
redaction of configured secrets, not a pattern, can catch it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from tests.resilience.formats import FORMATS, WireFormat
from tests.resilience.harness import Gateway, log_text
from tests.resilience.scripted import Script, ScriptedUpstream

Scripted = Callable[..., ScriptedUpstream]
Make = Callable[..., Gateway]
# Every format with a key no pattern would recognise.
KEYED = [dataclasses.replace(f, api_key=f"{f.name}-secret-key-0123456789abcdef") for f in FORMATS]
MESSAGE_LIMIT = 2000  # where the proxy cuts an upstream message (proxy/redaction.py)
GAP = 0.03  # spaced events: the error lands after the commit (see test_b_streaming.py)


def _messages(key: str) -> dict[str, str]:
    """The key at the start, and straddling the message cut (all but its last character
    would survive a cut made before the redaction)."""
    return {
        "plain": f"Incorrect API key provided: {key}.",
        "straddling": "x" * (MESSAGE_LIMIT - len(key) + 1) + key + " tail",
    }


def _error_object(fmt: WireFormat, message: str) -> tuple[dict[str, Any], str | None]:
    """An error object quoting the key in every field, and the SSE event name it travels in."""
    key = fmt.api_key
    if fmt.name == "openai":
        return {"error": {"message": message, "type": key, "param": key, "code": key}}, None
    if fmt.name == "anthropic":
        return {"type": "error", "error": {"type": key, "message": message}}, "error"
    return {"error": {"code": 400, "message": message, "status": key}}, None


def _leaks(fmt: WireFormat, text: str) -> list[str]:
    """Any 10-character window of the key found in `text` (a cut-off prefix included)."""
    key = fmt.api_key
    return [key[i : i + 10] for i in range(len(key) - 9) if key[i : i + 10] in text]


@pytest.mark.parametrize("where", ["plain", "straddling"])
@pytest.mark.parametrize("fmt", KEYED, ids=str)
def test_e6_error_answer_never_carries_the_key(
    scripted: Scripted,
    gateway: Make,
    caplog: pytest.LogCaptureFixture,
    fmt: WireFormat,
    where: str,
) -> None:
    caplog.set_level(logging.INFO)
    body, _ = _error_object(fmt, _messages(fmt.api_key)[where])
    fake = scripted(fmt, Script(status=400, body=orjson.dumps(body)))
    gw = gateway({"primary": fmt.provider(fake.url)})
    for response in (gw.chat(), gw.chat(stream=True)):
        assert response.status_code == 400, response.text
        assert "error" in response.json()
        assert _leaks(fmt, response.text) == []
    assert _leaks(fmt, log_text(caplog.records)) == []


@pytest.mark.parametrize("where", ["plain", "straddling"])
@pytest.mark.parametrize("fmt", KEYED, ids=str)
def test_e6_in_band_stream_error_never_carries_the_key(
    scripted: Scripted,
    gateway: Make,
    caplog: pytest.LogCaptureFixture,
    fmt: WireFormat,
    where: str,
) -> None:
    caplog.set_level(logging.INFO)
    error, event = _error_object(fmt, _messages(fmt.api_key)[where])
    events = [*fmt.transcript()[:3], fmt.frame(orjson.dumps(error), event)]
    fake = scripted(fmt, Script(events=events, event_delay=GAP))
    gw = gateway({"primary": fmt.provider(fake.url)})
    result = gw.stream()
    assert result.status == 200, result.body
    assert len(result.error_events) == 1, result.events
    assert _leaks(fmt, result.body.decode("utf-8", "replace")) == []
    assert _leaks(fmt, log_text(caplog.records)) == []
