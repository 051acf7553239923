"""The secrets the proxy must never show, and what of upstream text a client may see.

Every configured secret (provider keys, client keys, the admin key) is registered when a
config is loaded (state.py), and a provider's key also when its adapter is built, so an
adapter is safe on its own. Two users:

- errors.py, the one place a client-visible error is built from upstream text: message,
  code and param (and in-band stream errors, which become the same errors) go through
  `client_text` there, redacted before anything is cut; adapters quote a body they cannot
  read only through `unrecognised_body`, which also redacts the whole body first;
- logs.py, which scrubs every formatted line as a second line of defence.

Client-visible text is also scrubbed of `key=...` parameters (a Gemini-style `?key=` URL
reflected by an upstream or a WAF) and of anything shaped like a Google API key. Secrets
shorter than MIN_SECRET_LENGTH are not registered: masking every "abc" would garble
messages and hide nothing worth hiding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
MIN_SECRET_LENGTH = 4
_KEY_PARAM = re.compile(r"(?i)\b(key|api_key|apikey)=[^&\s\"'<>]*")
_GOOGLE_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{20,}")


class SecretSet:
    """All secrets registered so far (only ever grows: a reloaded-away key stays secret)."""

    def __init__(self) -> None:
        self.secrets: tuple[str, ...] = ()

    def register(self, secrets: Iterable[str]) -> None:
        merged = set(self.secrets) | {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        # Longest first, so a key that contains another is scrubbed whole.
        self.secrets = tuple(sorted(merged, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


SECRETS = SecretSet()


def register_secrets(secrets: Iterable[str]) -> None:
    SECRETS.register(secrets)


def redact(text: str) -> str:
    """`text` without any registered secret, `key=` parameter value or Google API key."""
    text = SECRETS.scrub(text)
    if "=" in text:
        text = _KEY_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
    if "AIza" in text:
        text = _GOOGLE_KEY.sub(MASK, text)
    return text


# Cuts of upstream text, always applied after redaction.
MESSAGE_LIMIT = 2000
FIELD_LIMIT = 200  # code, param
EXCERPT_LIMIT = 200  # of an error body the adapter could not read


def client_text(text: str, limit: int) -> str:
    """Upstream text made fit for a client: every secret redacted first, then cut."""
    text = redact(text)
    return text if len(text) <= limit else text[:limit] + "..."


def unrecognised_body(payload: bytes, what: str = "unrecognised error body") -> str:
    """A message quoting a short, printable, secret-free excerpt of an unreadable error body
    (an HTML page from a WAF, a truncated JSON): redacted whole, before it is cut."""
    text = redact(payload.decode("utf-8", "replace"))[: EXCERPT_LIMIT * 4]
    excerpt = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if not excerpt:
        return "empty error body"
    if len(excerpt) > EXCERPT_LIMIT:
        excerpt = excerpt[:EXCERPT_LIMIT] + "..."
    return f"{what}: {excerpt!r}"
