"""Provider presets: `preset: groq` fills `type: openai` and the provider's documented base URL.

A preset is only defaults; any field set next to it wins. Local servers need no key.
Sources (each vendor's OpenAI-compatibility page):
- openrouter: https://openrouter.ai/docs/api_reference/streaming (SSE comments such as
  `: OPENROUTER PROCESSING`; optional `HTTP-Referer` / `X-Title` attribution headers)
- groq: https://console.groq.com/docs/openai
- xai: https://docs.x.ai/docs/api-reference (`reasoning_content` in deltas of reasoning models)
- perplexity: https://docs.perplexity.ai (no /v1 in the path; `citations`, `search_results`)
- mistral: https://docs.mistral.ai/api/
- deepseek: https://api-docs.deepseek.com (`reasoning_content` from deepseek-reasoner)
- together: https://docs.together.ai/docs/openai-api-compatibility
- fireworks: https://docs.fireworks.ai/tools-sdks/openai-compatibility
- cohere: https://docs.cohere.com/docs/compatibility-api (rejects `stream_options`)
- ollama: https://github.com/ollama/ollama/blob/main/docs/openai.md
- vllm: https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html
- lmstudio: https://lmstudio.ai/docs/app/api/endpoints/openai
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    base_url: str
    local: bool = False  # a server on the user's machine: no api_key needed


PRESETS: dict[str, Preset] = {
    "openrouter": Preset("https://openrouter.ai/api/v1"),
    "groq": Preset("https://api.groq.com/openai/v1"),
    "xai": Preset("https://api.x.ai/v1"),
    "perplexity": Preset("https://api.perplexity.ai"),
    "mistral": Preset("https://api.mistral.ai/v1"),
    "deepseek": Preset("https://api.deepseek.com/v1"),
    "together": Preset("https://api.together.xyz/v1"),
    "fireworks": Preset("https://api.fireworks.ai/inference/v1"),
    "cohere": Preset("https://api.cohere.ai/compatibility/v1"),
    "ollama": Preset("http://localhost:11434/v1", local=True),
    "vllm": Preset("http://localhost:8000/v1", local=True),
    "lmstudio": Preset("http://localhost:1234/v1", local=True),
}
