"""The per-request tenancy step for a named key: model access, reserve, then settle.

Called by the endpoints (chat.py, embeddings.py) with a few lines: `admit` before routing
(404 for a model outside the key's list, 429 for a limit or a spent budget, 503 when the
shared state is down and `state.on_unavailable: closed`), `settle` in the endpoint's
`finally`, so every exit (answer, upstream failure, cancel, disconnect) settles the
reservation exactly once. An anonymous key (Identity.tenant None) costs one attribute test.

The estimate reserved: prompt bytes / 4 (an upper-side guess of tokens: BPE tokenizers
average about 4 bytes per token on English text and the JSON framing adds bytes, not tokens),
plus the request's max output tokens, or `state.default_max_tokens` when it sets none; its
price at the most expensive deployment of the model. Reconciled with the upstream's usage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from proxy import metrics
from proxy.config import Config, Price
from proxy.errors import ProxyError, not_found
from proxy.tenancy.limiter import Limiter, LimitExceeded, Reservation
from proxy.tenancy.policy import Tenant
from proxy.tenancy.store import StateUnavailable

if TYPE_CHECKING:
    from proxy.auth import Identity
    from proxy.trace import RequestTrace

_BYTES_PER_TOKEN = 4


class TenantGate:
    def __init__(self, limiter: Limiter, config: Config) -> None:
        self._limiter = limiter
        self._default_max_tokens = config.state.default_max_tokens
        self._prices = _max_prices(config)

    async def enter(
        self,
        who: Identity,
        model: str,
        prompt_bytes: int,
        body: Mapping[str, Any] | None,
        trace: RequestTrace,
    ) -> Reservation | None:
        """The endpoints' one call when named keys are configured: label the trace with the
        caller's key name and, for a named key, check and reserve (body None: an endpoint
        with no output tokens, such as embeddings)."""
        trace.key = who.name
        if who.tenant is None:
            return None
        out = 0 if body is None else self.max_output(body)
        return await self.admit(who.tenant, model, prompt_bytes, out, trace)

    def max_output(self, body: Mapping[str, Any]) -> int:
        """max_completion_tokens wins over max_tokens, as in the providers' own rules."""
        value = body.get("max_completion_tokens") or body.get("max_tokens")
        return value if isinstance(value, int) else self._default_max_tokens

    async def admit(
        self, tenant: Tenant, model: str, prompt_bytes: int, max_output: int, trace: RequestTrace
    ) -> Reservation:
        # Every model the request may be routed to: `model`, and the body's `models` list
        # (per-request routing, proxy/preferences.py) when it has one.
        for wanted in trace.models or (model,):
            if not tenant.may_use(wanted):
                metrics.observe_limited(tenant.name, "model")
                raise model_not_found(wanted)
        prompt = prompt_bytes // _BYTES_PER_TOKEN + 1
        price = self._prices.get(model)
        usd = 0.0 if price is None else price.cost(prompt, max_output, 0)
        try:
            reservation = await self._limiter.reserve(tenant, prompt + max_output, usd)
        except LimitExceeded as exc:
            metrics.observe_limited(tenant.name, exc.limit)
            raise limit_error(exc) from None
        except StateUnavailable:
            raise state_unavailable() from None
        trace.rate_headers = reservation.headers
        return reservation


async def settle(reservation: Reservation, trace: RequestTrace) -> None:
    """Charge what a whole answer used; give everything back for a request that failed, was
    cancelled or lost its client (a stream cut after its commit included). A whole answer
    whose usage is unknown keeps its reservation as the charge."""
    if reservation.settled:
        return
    if not (trace.finished and trace.outcome == "ok"):
        await reservation.release()
        return
    if trace.cache in ("hit", "coalesced"):
        # Served from the cache or another request's call: it counts as a request, but no
        # tokens and no money were spent upstream (issue 12).
        await reservation.reconcile(0, 0.0)
        return
    usage = trace.usage
    if usage is None:
        await reservation.keep()
        return
    price = trace.price
    usd = 0.0 if price is None else price.cost(usage.prompt, usage.completion, usage.cached)
    await reservation.reconcile(usage.prompt + usage.completion, usd)


def model_not_found(model: str) -> ProxyError:
    # OpenAI's own wording: an existing model the key may not use looks like a missing one.
    return not_found(
        f"The model '{model[:200]}' does not exist or you do not have access to it.",
        code="model_not_found",
        param="model",
    )


def limit_error(exc: LimitExceeded) -> ProxyError:
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in exc.headers}
    return ProxyError(429, exc.error_type, exc.message, code=exc.code, headers=headers)


def state_unavailable() -> ProxyError:
    return ProxyError(
        503,
        "service_unavailable",
        "The proxy's shared rate-limit state is unavailable; retry shortly.",
        code="state_unavailable",
        headers={"retry-after": "1"},
    )


def _max_prices(config: Config) -> dict[str, Price]:
    """Per public model, the highest price of each kind over its deployments: a reservation
    never assumes the cheaper fallback answers."""
    prices: dict[str, Price] = {}
    for model in config.models:
        known = [d.price for d in config.enabled_deployments(model) if d.price is not None]
        if known:
            prices[model] = Price(
                max(p.input_per_mtok for p in known),
                max(p.output_per_mtok for p in known),
                max(p.cached_per_mtok for p in known),
            )
    return prices
