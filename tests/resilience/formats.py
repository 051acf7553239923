"""Moved to tests/fakes/formats.py (one set of fakes); this name stays importable."""

from tests.fakes.formats import (
    ANTHROPIC,
    FORMATS,
    GEMINI,
    GEMINI_KEY,
    OPENAI,
    PROVIDER_KEY,
    WireFormat,
    words,
)

__all__ = [
    "ANTHROPIC",
    "FORMATS",
    "GEMINI",
    "GEMINI_KEY",
    "OPENAI",
    "PROVIDER_KEY",
    "WireFormat",
    "words",
]
