"""Inbound API surfaces: each parses its own requests and translates to and from Chat Completions."""
