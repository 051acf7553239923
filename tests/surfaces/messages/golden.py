"""The golden fixture folders of tests/fixtures/messages/: one per case, each with
messages_request.json -> chat_request.json (to_chat), chat_response.json ->
messages_response.json (from_chat), chat_chunks.json -> messages_events.json (stream)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent.parent / "fixtures" / "messages"
CASES = sorted(p.name for p in ROOT.iterdir() if (p / "messages_request.json").exists())
MESSAGE_ID, MODEL = "msg_fixture", "smart"


def load(case: str, name: str) -> Any:
    return json.loads((ROOT / case / name).read_text())
