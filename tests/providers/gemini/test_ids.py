"""proxy/providers/gemini/ids.py: tool call ids that carry thought signatures back byte-exact."""

from __future__ import annotations

from proxy.providers.gemini import from_gemini_response, to_gemini_request
from proxy.providers.gemini.ids import split_tool_call_id, tool_call_id
from tests.providers.gemini.golden import (
    CTX,
    OPTIONS,
    aggregate,
    decode_chunks,
    load,
    run_pipe,
    sse_bytes,
)


def test_thought_signature_round_trip() -> None:
    """A signature produced by one answer comes back on the functionCall part next turn."""
    gemini = load("thought_signature", "gemini_response.json")
    signature = gemini["candidates"][0]["content"]["parts"][1]["thoughtSignature"]
    answer = from_gemini_response(gemini, CTX)
    call = answer["choices"][0]["message"]["tool_calls"][0]
    streamed = aggregate(decode_chunks(run_pipe(sse_bytes("thought_signature"))))[0]
    assert streamed[0]["tools"][0]["id"] == call["id"]  # same id either way

    # The client replays the conversation through the openai SDK's JSON: ids untouched.
    next_turn = {
        "model": "flash",
        "messages": [
            load("thought_signature", "openai_request.json")["messages"][0],
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": '{"booked": true}'},
        ],
    }
    request = to_gemini_request(next_turn, OPTIONS)
    model_turn = request["contents"][1]
    assert model_turn == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "book_table", "args": {"people": 2, "time": "20:00"}},
                "thoughtSignature": signature,
            }
        ],
    }
    assert request["contents"][2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "book_table", "response": {"booked": True}}}],
    }


def test_tool_call_ids_are_deterministic_and_carry_signatures() -> None:
    plain = tool_call_id("chatcmpl-1", 0, 0, None)
    assert plain == tool_call_id("chatcmpl-1", 0, 0, None)
    assert plain != tool_call_id("chatcmpl-1", 0, 1, None) != tool_call_id("chatcmpl-2", 0, 0, None)
    assert plain.startswith("call_") and len(plain) == 29
    assert split_tool_call_id(plain) == (plain, None)
    for signature in ("ab+/cd==", "YQ==", "abcd", "a+b/c+d/eA=="):
        carried = tool_call_id("chatcmpl-1", 0, 0, signature)
        assert "+" not in carried and "/" not in carried and "=" not in carried
        assert split_tool_call_id(carried) == (plain, signature)
    # Ids written by clients or other providers are only used for matching.
    for foreign in ("toolu_01ABC", "call_xyz", "x__thought__abc", "call_1__thought__"):
        assert split_tool_call_id(foreign) == (foreign, None)


def test_foreign_tool_call_ids_match_their_results() -> None:
    request = to_gemini_request(
        {
            "model": "flash",
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "toolu_01",
                            "type": "function",
                            "function": {"name": "f", "arguments": ""},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "toolu_01", "content": "42"},
            ],
        }
    )
    assert request["contents"][1]["parts"] == [{"functionCall": {"name": "f", "args": {}}}]
    assert request["contents"][2]["parts"] == [
        {"functionResponse": {"name": "f", "response": {"result": 42}}}
    ]
