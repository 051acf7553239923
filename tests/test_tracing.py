"""proxy/tracing.py end to end: spans exported over OTLP/HTTP to a real receiver on
loopback (tests/otlp_receiver.py decodes them with opentelemetry-proto), for a success, a
fallback, a stream, a caller's traceparent, and the traceparent the upstream receives."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.conftest import CLIENT_KEY
from tests.fakes.formats import OPENAI, PROVIDER_KEY
from tests.fakes.scripted import Script, ScriptedUpstream
from tests.otlp_receiver import CLIENT, SERVER, OtlpReceiver, Span

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def config(urls: list[str], tracing: str = "{enabled: true}") -> str:
    providers = "\n".join(
        f"  p{i}: {orjson.dumps(OPENAI.provider(url)).decode()}" for i, url in enumerate(urls)
    )
    deployments = "\n".join(f"    - {{provider: p{i}, model: m{i}}}" for i in range(len(urls)))
    return f"providers:\n{providers}\nmodels:\n  smart:\n{deployments}\ntracing: {tracing}\n"


@pytest.fixture
def receiver(serve: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> OtlpReceiver:
    """A receiver, and the standard OTEL_* variables pointing the proxy's exporter at it."""
    otlp = OtlpReceiver()
    url = serve(otlp.app())
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{url}/v1/traces")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "20")  # export within milliseconds
    monkeypatch.setenv("OTEL_SERVICE_NAME", "proxy-under-test")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    return otlp


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0)


def parsed(traceparent: str) -> tuple[str, str]:
    """(trace id, parent span id) of a W3C traceparent; it must say "sampled"."""
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00" and int(flags, 16) & 1
    return trace_id, span_id


def one_server_span(receiver: OtlpReceiver) -> Span:
    [server] = receiver.wait_for(1, SERVER)
    return server


def test_success_has_a_server_span_and_an_attempt_span_with_genai_attributes(
    receiver: OtlpReceiver,
    start_proxy: Callable[..., str],
    scripted: Callable[..., ScriptedUpstream],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = scripted(OPENAI)
    url = start_proxy(config([fake.url]))
    with caplog.at_level(logging.INFO, logger="proxy.access"):
        answer = client(url).chat.completions.create(
            model="smart", messages=[{"role": "user", "content": "hi"}], temperature=0.5
        )
    server = one_server_span(receiver)
    [attempt] = receiver.wait_for(1, CLIENT)
    assert server.name == "chat smart"
    assert server.service_name == "proxy-under-test"
    assert server.parent_span_id == ""
    attrs = server.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "smart"
    assert attrs["gen_ai.request.temperature"] == 0.5
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.response.model"] == "m0"
    assert attrs["gen_ai.response.id"] == answer.id
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert answer.usage is not None
    assert attrs["gen_ai.usage.input_tokens"] == answer.usage.prompt_tokens
    assert attrs["gen_ai.usage.output_tokens"] == answer.usage.completion_tokens
    assert "gen_ai.usage.cache_read.input_tokens" in attrs
    assert "gen_ai.input.messages" not in attrs  # content is off by default
    assert attempt.name == "chat m0"
    assert (attempt.trace_id, attempt.parent_span_id) == (server.trace_id, server.span_id)
    assert attempt.attributes["server.address"] == "127.0.0.1"
    assert attempt.attributes["gen_ai.provider.name"] == "openai"
    assert attempt.attributes["llm_proxy.attempt.outcome"] == "ok"
    assert PROVIDER_KEY not in repr(receiver.spans) and CLIENT_KEY not in repr(receiver.spans)
    # The upstream's traceparent names the attempt span as its parent.
    assert parsed(fake.requests[0].headers["traceparent"]) == (attempt.trace_id, attempt.span_id)
    [line] = [r for r in caplog.records if r.getMessage() == "request"]
    fields: dict[str, Any] = line.fields  # type: ignore[attr-defined]
    assert (fields["trace_id"], fields["span_id"]) == (server.trace_id, server.span_id)


def test_fallback_has_two_attempt_spans_the_first_with_its_outcome(
    receiver: OtlpReceiver,
    start_proxy: Callable[..., str],
    scripted: Callable[..., ScriptedUpstream],
) -> None:
    # The failing provider's error echoes its key: the span must not carry it (E6).
    echo = orjson.dumps({"error": {"message": f"key {PROVIDER_KEY} is broken"}})
    failing, working = scripted(OPENAI, Script(status=500, body=echo)), scripted(OPENAI)
    url = start_proxy(config([failing.url, working.url]))
    client(url).chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}])
    server = one_server_span(receiver)
    first, second = sorted(receiver.wait_for(2, CLIENT), key=lambda s: s.name)
    assert (first.name, second.name) == ("chat m0", "chat m1")
    assert {first.parent_span_id, second.parent_span_id} == {server.span_id}
    outcome = first.attributes["llm_proxy.attempt.outcome"]
    assert outcome not in ("ok", "abandoned")
    assert first.attributes["error.type"] == outcome
    assert first.status_code == 2  # STATUS_CODE_ERROR
    assert first.status_message and PROVIDER_KEY not in repr(receiver.spans)
    assert second.attributes["llm_proxy.attempt.outcome"] == "ok"
    assert "error.type" not in second.attributes
    assert server.attributes["llm_proxy.attempts"] == [f"p0:{outcome}", "p1:ok"]
    # Each upstream saw its own attempt's span as parent.
    assert parsed(failing.requests[0].headers["traceparent"])[1] == first.span_id
    assert parsed(working.requests[0].headers["traceparent"])[1] == second.span_id


def test_stream_records_time_to_first_chunk(
    receiver: OtlpReceiver,
    start_proxy: Callable[..., str],
    scripted: Callable[..., ScriptedUpstream],
) -> None:
    fake = scripted(OPENAI)
    url = start_proxy(config([fake.url]))
    stream = client(url).chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "x"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    server = one_server_span(receiver)
    [attempt] = receiver.wait_for(1, CLIENT)
    assert server.attributes["gen_ai.request.stream"] is True
    assert server.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert attempt.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert attempt.attributes["llm_proxy.attempt.outcome"] == "ok"
    assert parsed(fake.requests[0].headers["traceparent"])[1] == attempt.span_id


def test_a_callers_traceparent_is_continued(
    receiver: OtlpReceiver,
    start_proxy: Callable[..., str],
    scripted: Callable[..., ScriptedUpstream],
) -> None:
    fake = scripted(OPENAI)
    url = start_proxy(config([fake.url]))
    reply = httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "smart", "messages": [{"role": "user", "content": "x"}]},
        headers={
            "authorization": f"Bearer {CLIENT_KEY}",
            "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
            "tracestate": "vendor=abc",
        },
    )
    assert reply.status_code == 200
    server = one_server_span(receiver)
    [attempt] = receiver.wait_for(1, CLIENT)
    assert (server.trace_id, server.parent_span_id) == (CALLER_TRACE, CALLER_SPAN)
    assert attempt.trace_id == CALLER_TRACE
    headers = fake.requests[0].headers
    assert parsed(headers["traceparent"]) == (CALLER_TRACE, attempt.span_id)
    assert headers["tracestate"] == "vendor=abc"


def test_captured_content_only_when_configured(
    receiver: OtlpReceiver,
    start_proxy: Callable[..., str],
    scripted: Callable[..., ScriptedUpstream],
) -> None:
    fake = scripted(OPENAI)
    url = start_proxy(config([fake.url], "{enabled: true, capture_content: true}"))
    client(url).chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "the question"}]
    )
    attrs = one_server_span(receiver).attributes
    assert "the question" in attrs["gen_ai.input.messages"]
    assert "assistant" in attrs["gen_ai.output.messages"]


def test_an_error_answer_has_a_span_with_its_error_type(
    receiver: OtlpReceiver,
    start_proxy: Callable[..., str],
    scripted: Callable[..., ScriptedUpstream],
) -> None:
    fake = scripted(OPENAI)
    url = start_proxy(config([fake.url]))
    with pytest.raises(openai.NotFoundError):
        client(url).chat.completions.create(model="nope", messages=[{"role": "user", "c": 1}])
    server = one_server_span(receiver)
    assert server.attributes["http.response.status_code"] == 404
    assert server.attributes["error.type"] == "model_not_found"
    assert server.status_code == 2


OFF_CHECK = """
import sys
from proxy.app import build_app
from proxy.config import parse_config
from proxy.upstream import httpx_transport
text = '''providers:
  p: {type: mock}
models:
  m: [{provider: p, model: x}]
auth: {disabled: true}
'''
app = build_app(parse_config(text, {}), httpx_transport)
gateway = app.app.state.gateway
gateway.start()
assert gateway.state.tracer is None
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
print(loaded)
"""


def test_tracing_off_imports_no_opentelemetry() -> None:
    out = subprocess.run(
        [sys.executable, "-c", OFF_CHECK], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_routing_preferences_are_on_the_span(
    receiver: OtlpReceiver,
    start_proxy: Callable[..., str],
    scripted: Callable[..., ScriptedUpstream],
) -> None:
    fake = scripted(OPENAI)
    url = start_proxy(config([fake.url]))
    reply = httpx.post(
        f"{url}/v1/chat/completions",
        json={"models": ["smart"], "messages": [{"role": "user", "content": "x"}]},
        headers={"authorization": f"Bearer {CLIENT_KEY}", "x-proxy-route": "p0"},
    )
    assert reply.status_code == 200
    attrs = one_server_span(receiver).attributes
    assert attrs["llm_proxy.request.models"] == ["smart"]
    assert attrs["llm_proxy.request.route"] == "p0"


def test_an_unsampled_caller_is_not_exported_but_its_trace_goes_on(
    receiver: OtlpReceiver,
    start_proxy: Callable[..., str],
    scripted: Callable[..., ScriptedUpstream],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """parentbased_always_on: a caller that did not sample (flags 00) is followed."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    fake = scripted(OPENAI)
    url = start_proxy(config([fake.url]))
    body = {"model": "smart", "messages": [{"role": "user", "content": "x"}]}
    auth = {"authorization": f"Bearer {CLIENT_KEY}"}
    unsampled = {**auth, "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-00"}
    assert httpx.post(f"{url}/v1/chat/completions", json=body, headers=unsampled).is_success
    _, trace_id, _, flags = fake.requests[0].headers["traceparent"].split("-")
    assert (trace_id, flags) == (CALLER_TRACE, "00")
    # A sampled request after it: once its span is in, the unsampled one would be too.
    assert httpx.post(f"{url}/v1/chat/completions", json=body, headers=auth).is_success
    server = one_server_span(receiver)
    assert server.trace_id != CALLER_TRACE
    assert all(s.trace_id != CALLER_TRACE for s in receiver.spans)
