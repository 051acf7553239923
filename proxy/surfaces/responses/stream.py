"""Chat Completions chunks -> the Responses event stream, one translator per request.

Reference: openai.types.responses.ResponseStreamEvent and the openai SDK's stream
accumulator (openai/lib/streaming/responses). The sequence OpenAI sends, and this emits:

    response.created, response.in_progress                       (status in_progress)
    per output item, one at a time, numbered by output_index:
      response.output_item.added
      message:   response.content_part.added, response.output_text.delta...,
                 response.output_text.done, response.content_part.done
      function:  response.function_call_arguments.delta..., .done
      reasoning: response.reasoning_summary_part.added, response.reasoning_summary_text.delta...,
                 .done, response.reasoning_summary_part.done  (only with reasoning.summary)
      response.output_item.done                                  (the whole item)
    response.completed | response.incomplete                     (the whole Response, usage)

Every event carries `sequence_number` (0, 1, ...). An item opens at its first delta and is
done when a delta for another item arrives or the stream finishes: the translated providers
produce reasoning, text and tool calls one after another (arguments resuming for a tool call
already done are a stream_error: a done item cannot reopen). Items are built with the same
builders as the non-stream answer (response.py), so the accumulated stream equals it.
Not streamed: chat `refusal` deltas (no translated adapter produces them; the non-stream
answer maps `refusal` to a refusal part).
Chat chunk fields read: `content`, `tool_calls[i]` (by index), `thinking_blocks[i]` (by
index, string fields concatenated as the openai SDK merges them) or else
`reasoning_content`, `finish_reason`, and the usage chunk. fail() turns an error after the
commit into `response.failed` (errors.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from proxy.errors import ProxyError, upstream_transport_error
from proxy.surfaces.responses.context import ResponseContext
from proxy.surfaces.responses.errors import response_error
from proxy.surfaces.responses.reasoning import summary_text
from proxy.surfaces.responses.response import (
    FINISH,
    call_item,
    envelope,
    message_item,
    reasoning_item,
    responses_usage,
    text_part,
)
from proxy.surfaces.responses.wire import OutputItem, Status

ItemKind = Literal["message", "function_call", "reasoning"]
_GEMINI_THOUGHTS = -1  # the reasoning key when only `reasoning_content` streams
_ID_PREFIXES = MappingProxyType({"message": "msg", "function_call": "fc", "reasoning": "rs"})


@dataclass(slots=True)
class _Item:
    kind: ItemKind
    index: int  # output_index
    text: str = ""  # message text, function arguments or reasoning text
    call: tuple[str, str] = ("", "")  # a function call's (call_id, chat tool name)
    block: dict[str, Any] | None = None  # the Claude thinking block, merged so far


class ResponsesStreamTranslator:
    def __init__(self, ctx: ResponseContext, provider: str = "upstream") -> None:
        self._ctx = ctx
        self._provider = provider  # names the culprit of a malformed chunk
        self._sequence = 0
        self._started = False
        self._items: list[_Item] = []
        self._done: dict[int, OutputItem] = {}  # output_index -> finished item
        self._open: _Item | None = None
        self._tools: dict[int, _Item] = {}  # chat tool_calls index -> item
        self._thoughts: dict[int, _Item] = {}  # thinking_blocks index -> item
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """Events for one chat chunk; UpstreamError(stream_error) if it has a shape no
        adapter produces (an openai-compatible upstream's chunks arrive unchecked)."""
        try:
            return self._feed(chunk)
        except (AttributeError, TypeError, KeyError) as exc:
            detail = "a chat chunk of unexpected shape"
            raise upstream_transport_error(self._provider, "stream_error", detail) from exc

    def _feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        events = self._start()
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            self._reasoning(delta, events)
            if delta.get("content"):
                self._text(delta["content"], events)
            for call in delta.get("tool_calls") or []:
                self._call(call, events)
            self._finish = choice.get("finish_reason") or self._finish
        return events

    def finish(self) -> list[dict[str, Any]]:
        """The open item's done events and the terminal response.completed / .incomplete."""
        events = self._start()
        status, reason = FINISH.get(self._finish or "stop", ("completed", None))
        self._close(events, "incomplete" if status == "incomplete" else "completed")
        usage = responses_usage(self._usage) if self._usage else None
        response = envelope(self._ctx, status, self._output(), usage, reason)
        events.append(self._event(f"response.{status}", response=response))
        return events

    def fail(self, error: ProxyError) -> list[dict[str, Any]]:
        """After the commit: `response.failed` with the output so far."""
        events = self._start()
        failed = envelope(self._ctx, "failed", self._output(), error=response_error(error))
        events.append(self._event("response.failed", response=failed))
        return events

    # --- items ---------------------------------------------------------------------------

    def _reasoning(self, delta: dict[str, Any], events: list[dict[str, Any]]) -> None:
        entries = delta.get("thinking_blocks")
        if entries:
            for entry in entries:
                self._thinking(entry, events)
        elif delta.get("reasoning_content"):
            item = self._thoughts.get(_GEMINI_THOUGHTS) or self._begin("reasoning", events)
            self._thoughts[_GEMINI_THOUGHTS] = item
            self._summary_delta(item, delta["reasoning_content"], events)

    def _thinking(self, entry: dict[str, Any], events: list[dict[str, Any]]) -> None:
        key = entry.get("index", 0)
        item = self._thoughts.get(key)
        if item is None:
            item = self._thoughts[key] = self._begin("reasoning", events)
        block = item.block = item.block if item.block is not None else {}
        for name, value in entry.items():
            if name == "index":
                continue
            previous = block.get(name)
            joined = isinstance(previous, str) and isinstance(value, str) and name != "type"
            block[name] = previous + value if joined else value
        if entry.get("thinking"):
            self._summary_delta(item, entry["thinking"], events)

    def _summary_delta(self, item: _Item, text: str, events: list[dict[str, Any]]) -> None:
        first = not item.text
        item.text += text
        if not self._ctx.summary:
            return
        where = {"item_id": self._id(item), "output_index": item.index, "summary_index": 0}
        if first:
            part = {"type": "summary_text", "text": ""}
            events.append(self._event("response.reasoning_summary_part.added", **where, part=part))
        events.append(self._event("response.reasoning_summary_text.delta", **where, delta=text))

    def _text(self, text: str, events: list[dict[str, Any]]) -> None:
        item = self._open if self._open and self._open.kind == "message" else None
        if item is None:
            item = self._begin("message", events)
            part = text_part("")
            events.append(
                self._event("response.content_part.added", **self._where(item), part=part)
            )
        item.text += text
        events.append(
            self._event("response.output_text.delta", **self._where(item), delta=text, logprobs=[])
        )

    def _call(self, call: dict[str, Any], events: list[dict[str, Any]]) -> None:
        key = call.get("index", 0)
        function = call.get("function") or {}
        item = self._tools.get(key)
        if item is None:
            head = (call.get("id", ""), function.get("name", ""))
            item = self._tools[key] = self._begin("function_call", events, head)
        fragment = function.get("arguments") or ""
        if fragment and item is not self._open:
            # A Responses item cannot reopen after its done event; every adapter streams
            # one tool call's arguments before the next call starts.
            detail = f"arguments for tool call {key} resumed after another item began"
            raise upstream_transport_error(self._provider, "stream_error", detail)
        if fragment:
            item.text += fragment
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=self._id(item),
                    output_index=item.index,
                    delta=fragment,
                )
            )

    def _begin(
        self, kind: ItemKind, events: list[dict[str, Any]], call: tuple[str, str] = ("", "")
    ) -> _Item:
        self._close(events, "completed")
        item = _Item(kind, len(self._items), call=call)
        self._items.append(item)
        self._open = item
        added: OutputItem
        if kind == "message":
            added = message_item(self._ctx, item.index, [], "in_progress")
        elif kind == "function_call":
            added = call_item(self._ctx, item.index, *call, "", "in_progress")
        else:
            added = reasoning_item(self._ctx, item.index, "", None)
        events.append(
            self._event("response.output_item.added", output_index=item.index, item=added)
        )
        return item

    def _close(self, events: list[dict[str, Any]], status: Status) -> None:
        item, self._open = self._open, None
        if item is None:
            return
        done = self._snapshot(item, status)
        where = self._where(item)
        if item.kind == "message":
            events.append(
                self._event("response.output_text.done", **where, text=item.text, logprobs=[])
            )
            events.append(
                self._event("response.content_part.done", **where, part=text_part(item.text))
            )
        elif item.kind == "function_call":
            del where["content_index"]
            events.append(
                self._event("response.function_call_arguments.done", **where, arguments=item.text)
            )
        elif done["type"] == "reasoning" and done["summary"]:
            where = {"item_id": where["item_id"], "output_index": item.index, "summary_index": 0}
            events.append(
                self._event("response.reasoning_summary_text.done", **where, text=item.text)
            )
            part = done["summary"][0]
            events.append(self._event("response.reasoning_summary_part.done", **where, part=part))
        self._done[item.index] = done
        events.append(self._event("response.output_item.done", output_index=item.index, item=done))

    def _snapshot(self, item: _Item, status: Status) -> OutputItem:
        """The item as the non-stream answer would hold it."""
        if item.kind == "message":
            return message_item(self._ctx, item.index, [text_part(item.text)], status)
        if item.kind == "function_call":
            return call_item(self._ctx, item.index, *item.call, item.text, status)
        text = summary_text(item.block) if item.block is not None else item.text
        return reasoning_item(self._ctx, item.index, text, item.block)

    def _output(self) -> list[OutputItem]:
        return [
            self._done.get(item.index) or self._snapshot(item, "in_progress")
            for item in self._items
        ]

    # --- events --------------------------------------------------------------------------

    def _start(self) -> list[dict[str, Any]]:
        if self._started:
            return []
        self._started = True
        response = envelope(self._ctx, "in_progress", [])
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    def _where(self, item: _Item) -> dict[str, Any]:
        return {"item_id": self._id(item), "output_index": item.index, "content_index": 0}

    def _id(self, item: _Item) -> str:
        return self._ctx.item_id(_ID_PREFIXES[item.kind], item.index)

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event
