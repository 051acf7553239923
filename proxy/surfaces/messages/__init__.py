"""POST /v1/messages (Anthropic Messages inbound), issue 14.

- request.py    parse and validate the Messages request once (MessagesRequest)
- errors.py     Anthropic's error envelope and statuses, for the proxy's errors and the
                upstream's (passed through unmodified on passthrough)
- to_chat.py    Messages request -> Chat Completions request (pure)
- from_chat.py  chat.completion -> Message (pure)
- stream.py     chat.completion.chunk stream -> Messages event stream (per-request translator)
- endpoint.py   the raw ASGI handlers for /v1/messages and /v1/messages/count_tokens
- models.py     GET /v1/models in Anthropic's list shape

Same format in and out is passthrough: to a provider whose adapter has a `messages` codec
(anthropic) the body goes up unchanged except `model`; to the others it is translated
through Chat Completions and the provider's own adapter.
"""
