"""The tests' one set of fake upstreams, all on 127.0.0.1.

- openai.py, anthropic.py, gemini.py: FakeOpenAI, FakeAnthropic, FakeGemini, ASGI apps that
  speak each provider's wire format with full fidelity (served with the `serve` fixture;
  the Anthropic and Gemini ones answer from tests/fixtures and are checked with the official
  SDKs in tests/e2e/*_fake_sdk.py).
- scripted.py + formats.py: ScriptedUpstream, a raw asyncio HTTP/1.1 server replaying a small
  transcript in any of the three formats with one injected fault (status, delay, stall, clean
  close, reset, held events), and recording what an ASGI app cannot see (connections, the
  moment the proxy hangs up). Fixture: `scripted`.

Not here, on purpose: bench/upstream (the benchmark's fast upstream, tuned for load, not for
faults) and proxy/providers/mock_upstream.py + mock.py (the production `mock` provider
that ships with the proxy); the tests use the latter only as a deployment under test.
"""
