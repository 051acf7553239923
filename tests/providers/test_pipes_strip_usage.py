"""PassthroughPipe(strip_usage=True): the proxy asked the upstream for usage the client did
not ask for; the client gets the bytes it would have had, the pipe still knows the usage."""

from __future__ import annotations

import pytest

from proxy.providers.pipes import PassthroughPipe

CONTENT = b'{"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}]}'
USAGE = b'{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}'


def event(data: bytes) -> bytes:
    return b"data: " + data + b"\n\n"


CASES = {
    # OpenAI: every chunk carries "usage":null, then a usage-only chunk with choices: [].
    "openai compact": (
        event(CONTENT[:-1] + b',"usage":null}')
        + event(b'{"id":"c","choices":[],"usage":' + USAGE + b"}"),
        event(CONTENT),
    ),
    # vLLM-style spacing.
    "spaced": (
        event(CONTENT[:-1] + b', "usage": null}')
        + event(b'{"id": "c", "choices": [], "usage": ' + USAGE + b"}"),
        event(CONTENT),
    ),
    # Usage riding on the last content chunk: cut out of that one chunk.
    "usage on a content chunk": (
        event(CONTENT[:-1] + b',"usage":' + USAGE + b"}"),
        event(CONTENT),
    ),
}


@pytest.mark.parametrize("upstream, client", CASES.values(), ids=CASES.keys())
def test_usage_is_known_and_not_forwarded(upstream: bytes, client: bytes) -> None:
    pipe = PassthroughPipe("up", strip_usage=True)
    out = pipe.feed(upstream) + pipe.feed(b"data: [DONE]\n\n") + pipe.finish()
    assert out == client + b"data: [DONE]\n\n"
    assert pipe.usage is not None and (pipe.usage.prompt, pipe.usage.completion) == (3, 2)


def test_without_strip_bytes_are_untouched() -> None:
    upstream = event(CONTENT[:-1] + b',"usage":null}') + event(
        b'{"choices":[],"usage":' + USAGE + b"}"
    )
    pipe = PassthroughPipe("up")
    assert pipe.feed(upstream) == upstream
