"""The response cache and in-flight coalescing (issue 12).

keys: the cache key and the caller's scope; store / redis_store: bytes by key, bounded;
entry: a complete answer as stored, built from a chat.completion or from a whole stream;
replay: an entry back as a chat.completion or as a chunk stream, with fresh ids;
flights: identical requests in flight share one upstream call (per process);
service: the ResponseCache the chat endpoint calls for a cacheable model;
capture: the send wrapper that records the leader's answer; admin: GET/DELETE /admin/cache.
"""
