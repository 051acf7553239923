"""proxy/redaction.py: the registered secrets, the patterns, and redaction before every cut."""

from __future__ import annotations

import pytest

from proxy.redaction import (
    EXCERPT_LIMIT,
    MASK,
    SecretSet,
    client_text,
    redact,
    register_secrets,
    unrecognised_body,
)

SECRET = "redaction-test-secret-0123456789"


def test_secret_set_scrubs_longest_first_and_skips_short_ones() -> None:
    secrets = SecretSet()
    secrets.register(["abc", "key-1234", "key-1234-and-more"])
    assert secrets.secrets == ("key-1234-and-more", "key-1234")
    assert secrets.scrub("abc key-1234-and-more key-1234") == f"abc {MASK} {MASK}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /v1beta/models/x?key=abc123&alt=sse", f"GET /v1beta/models/x?key={MASK}&alt=sse"),
        ("api_key=zzz", f"api_key={MASK}"),
        ("key AIzaSyD-0123456789abcdefghijklmn bad", f"key {MASK} bad"),
        (f"secret {SECRET}!", f"secret {MASK}!"),
        ("nothing to see", "nothing to see"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    register_secrets([SECRET])
    assert redact(text) == expected


def test_client_text_redacts_before_it_cuts() -> None:
    register_secrets([SECRET])
    text = "x" * (100 - len(SECRET) + 1) + SECRET  # a cut at 100 keeps all but its last char
    out = client_text(text, 100)
    assert SECRET[:8] not in out
    assert len(client_text("y" * 500, 100)) == 100 + len("...")


def test_unrecognised_body_redacts_before_it_cuts() -> None:
    register_secrets([SECRET])
    payload = ("<p>\x00" + "z" * (EXCERPT_LIMIT - 10) + SECRET + "</p>").encode()
    message = unrecognised_body(payload, "the error body is not JSON")
    assert message.startswith("the error body is not JSON: ")
    assert SECRET[:8] not in message
    assert message.isprintable()
    assert unrecognised_body(b" \n ") == "empty error body"
