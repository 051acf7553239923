"""Inbound surfaces: the API shapes clients speak, beside the outbound adapters (providers/).

Each surface owns its parse, its error envelope and its translation to and from the internal
Chat Completions shape; routing, fallback, breakers, metrics and the access log are the
router's and are shared (`Router.exchange`, `Router.open_stream_with` with a StreamWire).
"""
