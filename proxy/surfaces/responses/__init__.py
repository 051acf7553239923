"""OpenAI Responses (/v1/responses) inbound: the translation core, pure dict-to-dict functions.

- request.py: a Responses request -> the internal Chat Completions request + ResponseContext
- items.py: input items -> chat messages; tools.py: tools and tool_choice (namespaces flattened)
- reasoning.py: reasoning items <-> Claude thinking blocks (the `encrypted_content` carrier)
- response.py: a chat.completion -> the Response object; stream.py: chat chunks -> Responses events
- context.py: what one request fixes for its answer; errors.py: this surface's error shapes
- wire.py: the Responses shapes written (output items, parts, usage) as TypedDicts
"""
