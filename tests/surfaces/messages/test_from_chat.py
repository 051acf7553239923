"""chat.completion -> Message: golden fixtures, checked against the anthropic SDK's types."""

from __future__ import annotations

import anthropic
import pytest

from proxy.surfaces.messages.from_chat import STOP_REASONS, stop_reason, to_message
from tests.surfaces.messages.golden import CASES, MESSAGE_ID, MODEL, load


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    message = to_message(load(case, "chat_response.json"), MESSAGE_ID, MODEL)
    assert message == load(case, "messages_response.json")
    anthropic.types.Message.model_validate(message)  # the SDK's own shape, strictly typed


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
        ("weird", "end_turn"),
    ],
)
def test_stop_reasons(finish: str | None, stop: str) -> None:
    assert stop_reason(finish) == stop
    assert set(STOP_REASONS.values()) <= {"end_turn", "max_tokens", "tool_use", "refusal"}
