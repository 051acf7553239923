"""The golden fixture folders of tests/fixtures/responses/<case>/ and the SDK checks they share.

Each case holds request.json (a Responses request), chat_request.json (its translation),
chat_response.json and chat_chunks.json (what the translated upstream answered, in the
internal Chat Completions shape), response.json and events.json (the Responses answers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from openai._models import validate_type
from openai.types.responses import Response, ResponseStreamEvent

from proxy.surfaces.responses.context import ResponseContext
from proxy.surfaces.responses.request import responses_to_chat

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "responses"
CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
RESPONSE_ID = "resp_fixture"
CREATED_AT = 1764460800


def load(case: str, name: str) -> Any:
    return json.loads((FIXTURES / case / name).read_text())


def context(case: str) -> ResponseContext:
    return responses_to_chat(load(case, "request.json"), RESPONSE_ID, CREATED_AT).context


def sdk_response(value: dict[str, Any]) -> Response:
    return Response.model_validate(value)


def sdk_event(value: dict[str, Any]) -> ResponseStreamEvent:
    event: Any = validate_type(type_=cast(Any, ResponseStreamEvent), value=value)
    assert event.type == value["type"]
    return cast(ResponseStreamEvent, event)
