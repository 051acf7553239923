"""In-process kit for the request/stream core (chat.py, router.py, streaming.py): a real
Gateway whose upstreams are httpx.MockTransport handlers, driven by scripted ASGI
receive/send. No sockets: each test controls exactly when bytes arrive and when the client
reads, and sees every ASGI message, the breaker and the access line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from proxy.chat import ChatEndpoint
from proxy.config import parse_config
from proxy.lifecycle import Lifecycle
from proxy.state import Gateway
from proxy.trace import RequestTrace

CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
DONE = b"data: [DONE]\n\n"
REPLY = {
    "id": "x",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "from a"}}],
}
YAML = """
providers:
  a: {{type: openai, base_url: "http://a.test/v1", max_connections: 1, ttfb_timeout: 2,
      breaker: {{fail_max: 1, reset_timeout: 60}}}}
  b: {{type: openai, base_url: "http://b.test/v1"}}
models:
  m: [{{provider: a, model: a-model}}, {{provider: b, model: b-model}}]
  solo: [{{provider: a, model: a-model}}]
auth: {{disabled: true}}
server: {server}
"""


class ScriptStream(httpx.AsyncByteStream):
    """An upstream body: the given chunks, then (optionally) a wait that never ends."""

    def __init__(self, chunks: Iterable[bytes], stall: bool = False) -> None:
        self.chunks = list(chunks)
        self.stall = stall
        self.closed = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.stall:
            await asyncio.Event().wait()

    async def aclose(self) -> None:
        self.closed.set()


Handler = Callable[[httpx.Request], httpx.Response]


def stream_reply(
    chunks: Iterable[bytes], stall: bool = False
) -> tuple[Handler, list[ScriptStream]]:
    """A handler answering every request with the same chunks; the bodies it made."""
    fixed = list(chunks)
    bodies: list[ScriptStream] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(ScriptStream(fixed, stall))
        return httpx.Response(200, stream=bodies[-1])

    return handle, bodies


def json_reply(payload: Any, status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, content=orjson.dumps(payload))


@dataclass
class Upstreams:
    """Per-provider handlers ("a", "b"); `hits` counts requests per provider."""

    handlers: dict[str, Handler]
    hits: dict[str, int] = field(default_factory=dict)

    def transport(self, provider: Any) -> httpx.AsyncBaseTransport:
        name = provider.name

        def handle(request: httpx.Request) -> httpx.Response:
            self.hits[name] = self.hits.get(name, 0) + 1
            return self.handlers[name](request)

        return httpx.MockTransport(handle)


def build(handlers: dict[str, Handler], server: str = "{}") -> tuple[ChatEndpoint, Upstreams]:
    upstreams = Upstreams(handlers)
    config = parse_config(YAML.format(server=server), {})
    lifecycle = Lifecycle(config.server.max_in_flight, config.server.drain_timeout)
    gateway = Gateway(config, upstreams.transport, lifecycle)
    gateway.start()
    return ChatEndpoint(gateway), upstreams


def health(chat: ChatEndpoint, provider: str = "a") -> Any:
    state = chat.gateway.state
    assert state is not None
    return state.routes[provider].health


class Client:
    """Scripted ASGI receive/send: the body, then (optionally) a disconnect on demand.
    `block_at` makes the n-th send (0-based) wait until `unblock` (or forever)."""

    def __init__(self, body: bytes, block_at: int | None = None, fail_at: int | None = None):
        self.body = body
        self.messages: list[dict[str, Any]] = []
        self.block_at = block_at
        self.fail_at = fail_at
        self.blocked = asyncio.Event()
        self.unblock = asyncio.Event()
        self.gone = asyncio.Event()
        self.listening = asyncio.Event()  # someone waits for a disconnect
        self._sent_body = False

    async def receive(self) -> dict[str, Any]:
        if not self._sent_body:
            self._sent_body = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        self.listening.set()
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        index = len(self.messages)
        if index == self.fail_at:
            raise OSError("the connection broke")
        self.messages.append(message)
        if index == self.block_at:
            self.blocked.set()
            await self.unblock.wait()

    @property
    def status(self) -> int | None:
        for m in self.messages:
            if m["type"] == "http.response.start":
                return int(m["status"])
        return None

    @property
    def body_bytes(self) -> bytes:
        return b"".join(
            m.get("body", b"") for m in self.messages if m["type"] != "http.response.start"
        )

    @property
    def complete(self) -> bool:
        last = self.messages[-1] if self.messages else {}
        return last.get("type") == "http.response.body" and not last.get("more_body", False)


def chat_body(model: str = "m", stream: bool = False) -> bytes:
    return orjson.dumps(
        {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    )


SCOPE = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}


async def run(chat: ChatEndpoint, client: Client) -> None:
    await chat(SCOPE, client.receive, client.send, "rid-1")  # type: ignore[arg-type]


class AccessLines:
    """The access lines written by RequestTrace.finish, captured by patching its _log."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def install(self, monkeypatch: Any) -> AccessLines:
        original = RequestTrace._log
        lines = self.lines

        def capture(trace: RequestTrace, status: int, *args: Any) -> None:
            lines.append(
                {
                    "status": status,
                    "outcome": trace.outcome,
                    "attempts": [(a.provider, a.outcome) for a in trace.attempts],
                    "client_disconnected": trace.client_disconnected,
                }
            )
            original(trace, status, *args)

        monkeypatch.setattr(RequestTrace, "_log", capture)
        return self
