"""The proxy under test as the resilience tests see it: config builder, client, metrics."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import orjson
import yaml

from tests.conftest import CLIENT_KEY
from tests.metrics_scrape import Metrics
from tests.resilience.client import RawStream, SSEResult
from tests.waiting import wait_until

AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
MODEL = "m"


def config_yaml(
    providers: dict[str, dict[str, Any]],
    models: dict[str, list[str]] | None = None,
    server: dict[str, Any] | None = None,
) -> str:
    """YAML for providers (name -> mapping), models (public -> provider names in priority
    order; default: model "m" over every provider in the given order) and server keys."""
    models = models or {MODEL: list(providers)}
    config: dict[str, Any] = {
        "providers": providers,
        "models": {
            public: [{"provider": p, "model": f"{p}-upstream"} for p in names]
            for public, names in models.items()
        },
    }
    if server:
        config["server"] = server
    return yaml.safe_dump(config, sort_keys=False)


def chat_body(model: str = MODEL, content: str = "hi", stream: bool = False, **extra: Any) -> bytes:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    body.update(extra)
    return orjson.dumps(body)


class Gateway:
    """A running proxy: a keep-alive JSON client, raw streams, health and metrics."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, headers=AUTH, timeout=30, trust_env=False)
        self._streams: list[RawStream] = []

    def chat(self, model: str = MODEL, content: str = "hi", **extra: Any) -> httpx.Response:
        return self.client.post(
            "/v1/chat/completions",
            content=chat_body(model, content, **extra),
            headers={"content-type": "application/json"},
        )

    def timed_chat(self, **kwargs: Any) -> tuple[httpx.Response, float]:
        """chat() and its duration, for diagnostics only: tests do not assert on time (use
        chat_within). Kept because test files written before that rule call it."""
        started = time.monotonic()
        response = self.chat(**kwargs)
        return response, time.monotonic() - started

    def chat_within(
        self, seconds: float, model: str = MODEL, content: str = "hi", **extra: Any
    ) -> httpx.Response:
        """chat() waiting at most `seconds` for the answer (httpx.TimeoutException if not):
        how a test says "answered at once" or "answered by the deadline" without timing it."""
        return self.client.post(
            "/v1/chat/completions",
            content=chat_body(model, content, **extra),
            headers={"content-type": "application/json"},
            timeout=seconds,
        )

    def open_stream(
        self, model: str = MODEL, content: str = "hi", timeout: float = 10.0, **extra: Any
    ) -> RawStream:
        stream = RawStream(
            self.url,
            "/v1/chat/completions",
            chat_body(model, content, stream=True, **extra),
            {**AUTH, "content-type": "application/json"},
            timeout=timeout,
        )
        self._streams.append(stream)
        return stream

    def stream(
        self,
        model: str = MODEL,
        content: str = "hi",
        timeout: float = 10.0,
        within: float | None = None,
        **extra: Any,
    ) -> SSEResult:
        """A whole stream request; a non-200 answer comes back with its body in `.body`.
        With `within`, reading stops `within` seconds after the request was sent (the
        result's `ended` is then "deadline")."""
        raw = self.open_stream(model, content, timeout, **extra)
        try:
            if raw.result.status != 200:
                return raw.read_body()
            return raw.read_all(within=within)
        finally:
            raw.close()

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def metrics(self) -> Metrics:
        response = self.client.get("/metrics")
        assert response.status_code == 200, response.text
        return Metrics(response.text)

    def close(self) -> None:
        for stream in self._streams:
            stream.sock.close()
        self.client.close()


def log_text(records: list[logging.LogRecord]) -> str:
    """Everything the captured records carry: message, structured fields, exception text.
    (Raw, before any redacting formatter: secrets must not get into a record at all.)"""
    lines = []
    for record in records:
        line = record.getMessage()
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + repr(fields)
        if record.exc_info:
            line += "\n" + logging.Formatter().formatException(record.exc_info)
        lines.append(line)
    return "\n".join(lines)


wait_for = wait_until  # the older name of tests/waiting.py's helper, still importable


def assert_openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}, error
    assert "Traceback" not in response.text
    if code is not None:
        assert error["code"] == code, error
    return dict(error)
