"""Google Gemini (the native generateContent API): an OpenAI client must not notice it.

Modules, one job each:
- request.py / messages.py / schema.py: OpenAI request -> GenerateContentRequest
- response.py: GenerateContentResponse -> chat.completion (FINISH_REASONS, usage)
- stream.py: alt=sse events -> chat.completion.chunk (GeminiStreamTranslator)
- errors.py: Gemini error bodies -> UpstreamError (gemini_error)
- ids.py: deterministic tool-call ids carrying Gemini 3 thought signatures
- adapter.py: URLs, headers, and the Adapter contract (GeminiAdapter)
"""

from proxy.providers.gemini.adapter import GeminiAdapter
from proxy.providers.gemini.errors import gemini_error
from proxy.providers.gemini.request import to_gemini_request
from proxy.providers.gemini.response import FINISH_REASONS, from_gemini_response
from proxy.providers.gemini.stream import GeminiStreamTranslator

__all__ = [
    "FINISH_REASONS",
    "GeminiAdapter",
    "GeminiStreamTranslator",
    "from_gemini_response",
    "gemini_error",
    "to_gemini_request",
]
