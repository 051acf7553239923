"""A very cheap fake OpenAI-compatible upstream: `python -m bench.upstream --port 9000`.

A raw asyncio Protocol speaking just enough HTTP/1.1 (keep-alive, Content-Length request
bodies) to answer any `POST .../chat/completions` with precomputed bytes:

- non-stream: one fixed chat.completion JSON body;
- `POST /v1/messages` (Anthropic Messages, for the /v1/messages passthrough scenario): one
  fixed Message, or its event stream (message_start, one text block of `--chunks` deltas,
  message_delta, message_stop);
- `POST /v1/responses` (OpenAI Responses, for the /v1/responses passthrough scenario): one
  fixed Response, or its event stream (response.created, one message item of `--chunks`
  output_text deltas, response.completed);
- stream (`"stream": true` in the body): chunked `text/event-stream`, `--chunks` data
  events, each written as its own HTTP chunk, then `data: [DONE]`. No delay between chunks
  unless `--chunk-delay-ms` is given.

`--latency-ms` holds every chat answer back that long before its first byte, like a model
thinking (issue 10: at LLM latencies a gateway holds hundreds of requests open at once).

`GET` on any path answers 200 `{"status":"ok"}` (readiness). It prints `ready` on stdout
once listening. Nothing is parsed beyond the request head and a substring test on the body,
so the upstream costs a few microseconds per request and the benchmark measures the proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import cast

STREAM_MARKERS = (b'"stream":true', b'"stream": true')
_MODEL = "gpt-upstream"
_ID = "chatcmpl-bench0000000000000000000000"


def completion_body() -> bytes:
    created = int(time.time())
    body = {
        "id": _ID,
        "object": "chat.completion",
        "created": created,
        "model": _MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def stream_events(chunks: int) -> list[bytes]:
    """`chunks` SSE data events (role first, finish_reason last) and the [DONE] event."""
    created = int(time.time())
    events = []
    for i in range(chunks):
        delta: dict[str, str] = {"content": f"tok{i} "}
        if i == 0:
            delta = {"role": "assistant", "content": ""}
        finish = "stop" if i == chunks - 1 else None
        chunk = {
            "id": _ID,
            "object": "chat.completion.chunk",
            "created": created,
            "model": _MODEL,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        events.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


def anthropic_body() -> bytes:
    body = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-upstream",
        "content": [{"type": "text", "text": "Hello! How can I help you today?"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 9, "output_tokens": 9},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def anthropic_events(chunks: int) -> list[bytes]:
    message = json.loads(anthropic_body())
    message.update(content=[], stop_reason=None)
    events: list[dict[str, object]] = [{"type": "message_start", "message": message}]
    events.append(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    )
    for i in range(chunks):
        delta = {"type": "text_delta", "text": f"tok{i} "}
        events.append({"type": "content_block_delta", "index": 0, "delta": delta})
    events.append({"type": "content_block_stop", "index": 0})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": chunks},
        }
    )
    events.append({"type": "message_stop"})
    return [
        b"event: %s\ndata: %s\n\n"
        % (str(e["type"]).encode(), json.dumps(e, separators=(",", ":")).encode())
        for e in events
    ]


def responses_body() -> bytes:
    part = {"type": "output_text", "text": "Hello! How can I help you today?", "annotations": []}
    item = {"id": "msg_bench", "type": "message", "role": "assistant", "status": "completed"}
    body = {
        "id": "resp_bench",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": _MODEL,
        "output": [{**item, "content": [part]}],
        "usage": {"input_tokens": 9, "output_tokens": 9, "total_tokens": 18},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def responses_events(chunks: int) -> list[bytes]:
    done = json.loads(responses_body())
    started = {**done, "status": "in_progress", "output": [], "usage": None}
    at = {"output_index": 0, "item_id": "msg_bench", "content_index": 0}
    events: list[dict[str, object]] = [{"type": "response.created", "response": started}]
    events += [
        {"type": "response.output_text.delta", **at, "delta": f"tok{i} "} for i in range(chunks)
    ]
    events.append({"type": "response.completed", "response": done})
    return [
        b"event: %s\ndata: %s\n\n"
        % (
            str(e["type"]).encode(),
            json.dumps({**e, "sequence_number": n}, separators=(",", ":")).encode(),
        )
        for n, e in enumerate(events)
    ]


def http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Responses:
    """Every byte the server will ever write, computed once."""

    def __init__(self, chunks: int) -> None:
        body = completion_body()
        self.json = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )
        health = b'{"status":"ok"}'
        self.health = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(health), health)
        )
        self.stream_head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        events = [http_chunk(e) for e in stream_events(chunks)]
        events[-1] += b"0\r\n\r\n"  # the end of the chunked body travels with [DONE]
        self.stream_parts = events
        messages = anthropic_body()
        self.anthropic_json = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(messages), messages)
        )
        anthropic = [http_chunk(e) for e in anthropic_events(chunks)]
        anthropic[-1] += b"0\r\n\r\n"
        self.anthropic_parts = anthropic
        answer = responses_body()
        self.responses_json = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(answer), answer)
        )
        responses = [http_chunk(e) for e in responses_events(chunks)]
        responses[-1] += b"0\r\n\r\n"
        self.responses_parts = responses
        self.bad_request = (
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )


def content_length(head: bytes) -> int | None:
    """The Content-Length of a request head (None when absent or malformed)."""
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        return 0 if b"\r\ntransfer-encoding:" not in lower else None
    end = lower.find(b"\r\n", at + 2)
    value = lower[at + 17 : end if end >= 0 else len(lower)].strip()
    return int(value) if value.isdigit() else None


class UpstreamProtocol(asyncio.Protocol):
    def __init__(self, responses: Responses, chunk_delay: float, latency: float = 0.0) -> None:
        self._responses = responses
        self._chunk_delay = chunk_delay
        self._latency = latency
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._transport is not None and self._handle_one():
            pass

    def _handle_one(self) -> bool:
        """Answer the first complete request in the buffer; False when there is none."""
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buffer[:end])
        length = content_length(head)
        if length is None:
            self._reply_and_close(self._responses.bad_request)
            return False
        total = end + 4 + length
        if len(self._buffer) < total:
            return False
        body = bytes(self._buffer[end + 4 : total])
        del self._buffer[:total]
        self._answer(head, body)
        return True

    def _answer(self, head: bytes, body: bytes) -> None:
        transport = self._transport
        assert transport is not None
        close = b"\r\nconnection: close" in head.lower()
        if head.startswith(b"GET "):
            transport.write(self._responses.health)
        elif not self._latency:
            self._chat(transport, head, body)
        else:
            # Clients send one request per connection at a time, so a late answer on this
            # connection cannot overtake another one.
            loop = asyncio.get_running_loop()
            loop.call_later(self._latency, self._late_chat, transport, head, body, close)
            return
        if close:
            transport.close()

    def _late_chat(
        self, transport: asyncio.Transport, head: bytes, body: bytes, close: bool
    ) -> None:
        if transport.is_closing():
            return
        self._chat(transport, head, body)
        if close:
            transport.close()

    def _chat(self, transport: asyncio.Transport, head: bytes, body: bytes) -> None:
        r = self._responses
        stream = any(marker in body for marker in STREAM_MARKERS)
        if head.startswith(b"POST /v1/messages"):
            self._write_answer(transport, stream, r.anthropic_parts, r.anthropic_json)
        elif head.startswith(b"POST /v1/responses"):
            self._write_answer(transport, stream, r.responses_parts, r.responses_json)
        else:
            self._write_answer(transport, stream, r.stream_parts, r.json)

    def _write_answer(
        self, transport: asyncio.Transport, stream: bool, parts: list[bytes], whole: bytes
    ) -> None:
        if stream:
            self._stream(transport, parts)
        else:
            transport.write(whole)

    def _stream(self, transport: asyncio.Transport, parts: list[bytes]) -> None:
        transport.write(self._responses.stream_head)
        if not self._chunk_delay:
            for part in parts:
                transport.write(part)  # one write (one segment) per SSE event
            return
        loop = asyncio.get_running_loop()
        for i, part in enumerate(parts):
            loop.call_later(self._chunk_delay * i, _write_if_open, transport, part)

    def _reply_and_close(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.write(data)
            self._transport.close()


def _write_if_open(transport: asyncio.Transport, data: bytes) -> None:
    if not transport.is_closing():
        transport.write(data)


async def serve(
    host: str, port: int, chunks: int, chunk_delay: float, latency: float = 0.0
) -> None:
    loop = asyncio.get_running_loop()
    responses = Responses(chunks)
    server = await loop.create_server(
        lambda: UpstreamProtocol(responses, chunk_delay, latency), host, port, backlog=4096
    )
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.upstream", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=20, help="SSE data events per stream")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="before each answer")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    coro = serve(
        args.host, args.port, args.chunks, args.chunk_delay_ms / 1000, args.latency_ms / 1000
    )
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    uvloop.run(coro)


def main(argv: list[str] | None = None) -> None:
    try:
        run(parse_args(argv))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
