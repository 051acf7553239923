"""Cache keys: what goes into them, and whose scope they are in."""

from __future__ import annotations

from proxy.cache.keys import ANONYMOUS, GLOBAL, cache_key, request_scope, scope_of

BODY = {"model": "demo", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}


def test_field_order_stream_and_user_do_not_matter() -> None:
    reordered = {"temperature": 0, "messages": BODY["messages"], "model": "demo"}
    extra = {**BODY, "stream": True, "stream_options": {"include_usage": True}, "user": "u"}
    assert cache_key("s", "demo", BODY) == cache_key("s", "demo", reordered)
    assert cache_key("s", "demo", BODY) == cache_key("s", "demo", extra)


def test_scope_model_and_answer_fields_do() -> None:
    base = cache_key("s", "demo", BODY)
    assert cache_key("t", "demo", BODY) != base
    assert cache_key("s", "other", BODY) != base
    assert cache_key("s", "demo", {**BODY, "temperature": 1}) != base
    assert cache_key("s", "demo", {**BODY, "tools": []}) != base


def test_key_is_a_digest_never_the_payload() -> None:
    key = cache_key("s", "demo", BODY)
    assert len(key) == 64 and "hi" not in key


def test_scopes() -> None:
    a = request_scope(False, None, "Bearer key-a", None)
    b = request_scope(False, None, None, "key-b")
    assert a != b and "key-a" not in a and "key-b" not in b
    assert request_scope(False, None, None, "key-a") == a  # either header, one key
    assert request_scope(True, None, "Bearer key-a", None) == GLOBAL
    assert scope_of(False, None, None) == ANONYMOUS
    # Named keys (issue 11): the name and the key; an anonymous name ("-") by key alone.
    assert scope_of(False, "-", "key-a") == a
    assert scope_of(False, "alice", "key-a") != a
