"""Tenants: named keys, their limits and budgets, and the state those counters live in.

policy (who may use what) -> limiter (reserve, reconcile, release) -> store (memory or Redis).
Not yet called from the request path: the edge wires it in after the request-path restructure.
"""
