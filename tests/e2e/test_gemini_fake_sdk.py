"""The fake Gemini upstream, checked with the official google-genai SDK.

If the SDK parses what the fake says, the fake speaks Gemini's wire format, and the proxy
tests that run against it mean something.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from google import genai
from google.genai import errors, types

from tests.fakes.gemini import FakeGemini

KEY = "fake-gemini-key"


@pytest.fixture
def fake() -> FakeGemini:
    return FakeGemini(api_key=KEY)


@pytest.fixture
def client(fake: FakeGemini, serve: Callable[..., str]) -> genai.Client:
    return genai.Client(api_key=KEY, http_options=http_options(serve(fake.app())))


def http_options(url: str) -> types.HttpOptions:
    # v1beta: the version the proxy's adapter speaks; no SDK retries, so errors surface.
    return types.HttpOptions(
        base_url=url, api_version="v1beta", retry_options=types.HttpRetryOptions(attempts=1)
    )


WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            description="Weather in a city",
            parameters_json_schema={
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        )
    ]
)


def test_non_stream_text(client: genai.Client, fake: FakeGemini) -> None:
    response = client.models.generate_content(model="gemini-2.5-flash", contents="Say hello")
    assert response.text == "Hello from fake Gemini."
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.usage_metadata and response.usage_metadata.candidates_token_count == 5
    sent = fake.last
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == KEY
    assert "key=" not in sent.url


def test_stream_text(client: genai.Client, fake: FakeGemini) -> None:
    chunks = list(
        client.models.generate_content_stream(model="gemini-2.5-flash", contents="Say hello")
    )
    assert "".join(c.text or "" for c in chunks) == "Hello from fake Gemini."
    assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason == "STOP"
    assert fake.last.path.endswith(":streamGenerateContent") and fake.last.query == "alt=sse"


def test_function_calls_with_signatures(client: genai.Client, fake: FakeGemini) -> None:
    config = types.GenerateContentConfig(tools=[WEATHER])
    response = client.models.generate_content(
        model="gemini-3-pro-preview", contents="Weather? [scenario:parallel]", config=config
    )
    calls = response.function_calls or []
    assert [(c.name, c.args) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    assert response.candidates and response.candidates[0].content
    parts = response.candidates[0].content.parts or []
    assert parts[0].thought_signature and parts[1].thought_signature is None

    # The SDK replays the model turn with its signature: the fake (as Gemini 3) accepts it.
    history = [
        types.Content(role="user", parts=[types.Part(text="Weather? [scenario:parallel]")]),
        response.candidates[0].content,
        types.Content(
            role="user",
            parts=[
                types.Part.from_function_response(name="get_weather", response={"temp": 18}),
                types.Part.from_function_response(name="get_weather", response={"temp": 25}),
            ],
        ),
    ]
    answer = client.models.generate_content(
        model="gemini-3-pro-preview", contents=history, config=config
    )
    assert answer.text == 'Tool said: get_weather={"temp":18}; get_weather={"temp":25}'

    # Without the signature the fake answers like Gemini 3: 400.
    unsigned = history[1].model_copy(deep=True)
    assert unsigned.parts
    unsigned.parts[0].thought_signature = None
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(
            model="gemini-3-pro-preview", contents=[history[0], unsigned, history[2]], config=config
        )
    assert info.value.code == 400 and "thought_signature" in (info.value.message or "")


def test_stream_function_call(client: genai.Client) -> None:
    config = types.GenerateContentConfig(tools=[WEATHER])
    chunks = list(
        client.models.generate_content_stream(
            model="gemini-2.5-flash", contents="Weather? [scenario:tools]", config=config
        )
    )
    calls = [call for chunk in chunks for call in chunk.function_calls or []]
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]


def test_json_thinking_and_filters(client: genai.Client) -> None:
    config = types.GenerateContentConfig(
        response_mime_type="application/json",
        response_json_schema={"type": "object", "properties": {"n": {"type": "integer"}}},
    )
    json_answer = client.models.generate_content(
        model="gemini-2.5-flash", contents="[scenario:json]", config=config
    )
    assert json_answer.text == '{"n":42}'

    thinking = client.models.generate_content(
        model="gemini-2.5-flash", contents="[scenario:thinking]"
    )
    assert thinking.candidates and thinking.candidates[0].content
    parts = thinking.candidates[0].content.parts or []
    assert parts[0].thought is True and parts[1].text == "The answer is 42."
    assert thinking.usage_metadata and thinking.usage_metadata.thoughts_token_count == 25

    safety = client.models.generate_content(model="gemini-2.5-flash", contents="[scenario:safety]")
    assert safety.candidates and safety.candidates[0].finish_reason == types.FinishReason.SAFETY

    blocked = client.models.generate_content(
        model="gemini-2.5-flash", contents="[scenario:blocked]"
    )
    assert blocked.prompt_feedback and blocked.prompt_feedback.block_reason == "SAFETY"
    assert not blocked.candidates


@pytest.mark.parametrize(
    ("scenario", "kind", "code", "status"),
    [
        ("error_400", errors.ClientError, 400, "INVALID_ARGUMENT"),
        ("error_403", errors.ClientError, 403, "PERMISSION_DENIED"),
        ("error_404", errors.ClientError, 404, "NOT_FOUND"),
        ("error_429", errors.ClientError, 429, "RESOURCE_EXHAUSTED"),
        ("error_500", errors.ServerError, 500, "INTERNAL"),
        ("error_503", errors.ServerError, 503, "UNAVAILABLE"),
        ("error_504", errors.ServerError, 504, "DEADLINE_EXCEEDED"),
    ],
)
def test_errors_are_the_sdks_typed_errors(
    client: genai.Client, scenario: str, kind: type[errors.APIError], code: int, status: str
) -> None:
    with pytest.raises(kind) as info:
        client.models.generate_content(model="gemini-2.5-flash", contents=f"[scenario:{scenario}]")
    assert info.value.code == code and info.value.status == status
    with pytest.raises(kind):
        list(
            client.models.generate_content_stream(
                model="gemini-2.5-flash", contents=f"[scenario:{scenario}]"
            )
        )


def test_the_key_must_be_in_the_header(serve: Callable[..., str], fake: FakeGemini) -> None:
    wrong = genai.Client(api_key="not-the-key", http_options=http_options(serve(fake.app())))
    with pytest.raises(errors.ClientError) as info:
        wrong.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert info.value.code == 400 and "API key not valid" in (info.value.message or "")
