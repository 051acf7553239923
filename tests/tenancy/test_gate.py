"""The per-request tenancy step: model access, the estimate reserved, settle on every exit."""

from __future__ import annotations

import pytest

from proxy.config import parse_config
from proxy.errors import ProxyError
from proxy.providers.base import Usage
from proxy.tenancy.gate import TenantGate, settle
from proxy.tenancy.limiter import Limiter
from proxy.tenancy.memory_store import MemoryStore
from proxy.tenancy.policy import Policy
from proxy.trace import RequestTrace

YAML = """
providers:
  a: {type: mock}
  b: {type: mock}
models:
  smart:
    - {provider: a, model: m, price: {input_per_mtok: 1, output_per_mtok: 2}}
    - {provider: b, model: m, price: {input_per_mtok: 3, output_per_mtok: 1}}
  plain: [{provider: a, model: m}]
auth:
  keys:
    - {name: team, key: "team-key-0123456789", models: [smart], limits: {rpm: 1, tpm: 100000}}
state: {default_max_tokens: 100}
"""


@pytest.fixture
def parts() -> tuple[TenantGate, MemoryStore, Policy]:
    config = parse_config(YAML, {})
    store = MemoryStore()
    return TenantGate(Limiter(store, 60), config), store, Policy(config.auth.keys)


def test_max_output_prefers_max_completion_tokens_then_the_default(
    parts: tuple[TenantGate, MemoryStore, Policy],
) -> None:
    gate = parts[0]
    assert gate.max_output({"max_completion_tokens": 7, "max_tokens": 9}) == 7
    assert gate.max_output({"max_tokens": 9}) == 9
    assert gate.max_output({}) == 100


async def test_reserve_then_reconcile_with_the_worst_price(
    parts: tuple[TenantGate, MemoryStore, Policy],
) -> None:
    gate, store, policy = parts
    tenant = policy.tenants["team"]
    trace = RequestTrace("smart", stream=False)
    reservation = await gate.admit(tenant, "smart", 396, 100, trace)
    used = await store.usage("team", reservation._ask.period)
    # 396 bytes / 4 + 1 = 100 prompt tokens + 100 output; priced at $3 in, $2 out per Mtok.
    assert (used.tokens, used.in_flight) == (200, 1)
    assert used.spent_micros == 100 * 3 + 100 * 2
    assert dict(trace.rate_headers)[b"x-ratelimit-remaining-requests"] == b"0"
    trace.usage, trace.finished = Usage(prompt=10, completion=5), True
    await settle(reservation, trace)
    used = await store.usage("team", reservation._ask.period)
    assert (used.requests, used.tokens, used.in_flight, used.spent_micros) == (1, 15, 0, 0)


@pytest.mark.parametrize("outcome", ["upstream_error", "client_disconnect", "stream_error"])
async def test_an_unanswered_request_gives_everything_back(
    parts: tuple[TenantGate, MemoryStore, Policy], outcome: str
) -> None:
    gate, store, policy = parts
    trace = RequestTrace("smart", stream=True)
    reservation = await gate.admit(policy.tenants["team"], "smart", 10, 10, trace)
    trace.outcome, trace.finished = outcome, True
    await settle(reservation, trace)
    used = await store.usage("team", reservation._ask.period)
    assert (used.requests, used.tokens, used.in_flight, used.spent_micros) == (0, 0, 0, 0)


async def test_model_outside_the_list_and_rpm(
    parts: tuple[TenantGate, MemoryStore, Policy],
) -> None:
    gate, _, policy = parts
    tenant = policy.tenants["team"]
    with pytest.raises(ProxyError) as caught:
        await gate.admit(tenant, "plain", 10, 10, RequestTrace("plain", stream=False))
    assert (caught.value.status, caught.value.code) == (404, "model_not_found")
    await gate.admit(tenant, "smart", 10, 10, RequestTrace("smart", stream=False))
    with pytest.raises(ProxyError) as caught:
        await gate.admit(tenant, "smart", 10, 10, RequestTrace("smart", stream=False))
    error = caught.value
    assert (error.status, error.type, error.code) == (
        429,
        "rate_limit_error",
        "rate_limit_exceeded",
    )
    assert int(error.headers["retry-after"]) >= 1 and "'team'" in error.message
