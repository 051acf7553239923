"""Tracing in a real `python -m proxy` process: the spans of a request answered just before
SIGTERM are exported by the shutdown flush, and the access line names their trace."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

from tests.conftest import CLIENT_KEY
from tests.fakes.formats import OPENAI
from tests.fakes.scripted import ScriptedUpstream
from tests.otlp_receiver import CLIENT, SERVER, OtlpReceiver
from tests.servers import ProxyProcess


def test_queued_spans_are_flushed_at_shutdown(
    tmp_path: Path, serve: Callable[..., str], scripted: Callable[..., ScriptedUpstream]
) -> None:
    receiver = OtlpReceiver()
    receiver_url = serve(receiver.app())
    fake = scripted(OPENAI)
    provider = orjson.dumps(OPENAI.provider(fake.url)).decode()
    config = tmp_path / "providers.yaml"
    config.write_text(
        f"providers:\n  p: {provider}\nmodels:\n  smart: [{{provider: p, model: m}}]\n"
        'auth: {api_keys: ["${PROXY_API_KEY}"]}\ntracing: {enabled: true}\n'
    )
    env = {
        "PROXY_API_KEY": CLIENT_KEY,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{receiver_url}/v1/traces",
        "OTEL_BSP_SCHEDULE_DELAY": "600000",  # nothing is exported before the shutdown
        "OTEL_TRACES_SAMPLER": "always_on",
    }
    proxy = ProxyProcess(str(config), env).wait_ready()
    try:
        reply = httpx.post(
            f"{proxy.url}/v1/chat/completions",
            json={"model": "smart", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {CLIENT_KEY}"},
        )
        assert reply.status_code == 200
        assert receiver.exports == 0
    finally:
        proxy.stop()  # uvicorn re-raises SIGTERM after its shutdown: the code is -15
    [server] = receiver.wait_for(1, SERVER)
    [attempt] = receiver.wait_for(1, CLIENT)
    assert attempt.parent_span_id == server.span_id
    lines = [orjson.loads(line) for line in proxy.log_lines() if line.startswith("{")]
    [access] = [line for line in lines if line.get("msg") == "request"]
    assert (access["trace_id"], access["span_id"]) == (server.trace_id, server.span_id)
