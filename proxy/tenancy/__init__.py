"""Tenants: named keys, their limits and budgets, and the state those counters live in.

policy (who may use what) -> limiter (reserve, reconcile, release) -> store (memory or Redis).
gate.py is the per-request step the endpoints call; the Gateway (state.py) owns the store.
"""
