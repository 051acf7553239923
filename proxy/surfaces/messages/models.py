"""GET /v1/models in Anthropic's list shape, for a request that carries `anthropic-version`
(the Anthropic SDKs' `client.models.list()`; `anthropic.types.ModelInfo`). Not hot: built
per request from the OpenAI list the state precomputed."""

from __future__ import annotations

import datetime

import orjson


def anthropic_models_body(openai_body: bytes) -> bytes:
    models = orjson.loads(openai_body)["data"]
    data = [
        {
            "type": "model",
            "id": m["id"],
            "display_name": m["id"],
            "created_at": datetime.datetime.fromtimestamp(m["created"], datetime.UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
        }
        for m in models
    ]
    return orjson.dumps(
        {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
    )
