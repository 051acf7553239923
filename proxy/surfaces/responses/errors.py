"""This surface's errors: the same OpenAI envelope as chat before the stream commits, and
`response.failed` after it.

Before the first byte, an error is an HTTP status with `{"error": {"message", "type",
"param", "code"}}` (ProxyError.to_openai_body): the openai SDK raises it as for chat.
After the commit, Responses streams end with a terminal lifecycle event, not a bare error
object: `response.failed` carrying `response.error` ({code, message}: openai.types.
responses.ResponseError, whose `code` is a closed set) is what the SDK's stream helper and
Codex (which needs a terminal event before the stream ends) both read. The message was
already redacted where the ProxyError was built (errors.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from proxy.errors import ProxyError

# ProxyError.type -> ResponseError.code (its closed set has no client-error codes but
# invalid_prompt; everything the provider or the proxy got wrong is server_error).
_CODES: Mapping[str, str] = MappingProxyType(
    {"rate_limit_error": "rate_limit_exceeded", "invalid_request_error": "invalid_prompt"}
)


def error_body(error: ProxyError) -> bytes:
    """The JSON body of an error answered before the stream commits."""
    return error.to_openai_body()


def response_error(error: ProxyError) -> dict[str, Any]:
    """The `error` field of a failed Response."""
    return {"code": _CODES.get(error.type, "server_error"), "message": error.message}
