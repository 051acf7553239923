"""The proxy under test as the resilience tests see it: config builder, client, metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CLIENT_KEY
from tests.resilience.client import RawStream, SSEResult

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


class Metrics:
    """One /metrics scrape: sample name + labels -> value."""

    def __init__(self, text: str) -> None:
        self.samples: list[tuple[str, dict[str, str], float]] = []
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples.append((sample.name, dict(sample.labels), float(sample.value)))
        self.names = {name for name, _, _ in self.samples}

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
        return sum(
            v
            for n, lab, v in self.samples
            if n == name and all(lab.get(k) == want for k, want in labels.items())
        )

    def has(self, name: str) -> bool:
        return name in self.names


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
        started = time.monotonic()
        response = self.chat(**kwargs)
        return response, time.monotonic() - started

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
        self, model: str = MODEL, content: str = "hi", timeout: float = 10.0, **extra: Any
    ) -> SSEResult:
        """A whole stream request; a non-200 answer comes back with its body in `.body`."""
        raw = self.open_stream(model, content, timeout, **extra)
        try:
            if raw.result.status != 200:
                return raw.read_body()
            return raw.read_all()
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


def wait_for(check: Callable[[], bool], timeout: float = 5.0, step: float = 0.01) -> bool:
    """Poll `check` until true, bounded by `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def assert_openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}, error
    assert "Traceback" not in response.text
    if code is not None:
        assert error["code"] == code, error
    return dict(error)
