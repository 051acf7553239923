"""Per-request routing preferences: which deployments one request may try, in what order.

Two inputs, both optional: the body's `models` (OpenRouter's convention: public models to
try in order, each with its own deployments and the same fallback rules) and the
`x-proxy-route: provider1,provider2` header, which keeps only deployments of the named
providers, in the routing table's order. Requests without either never come here.
"""

from __future__ import annotations

from collections.abc import Callable

from proxy.config import Deployment, ModelKind
from proxy.errors import ProxyError, invalid_request, not_found

ROUTE_HEADER = "x-proxy-route"

PlanFn = Callable[[str, ModelKind], tuple[Deployment, ...]]
AllowedFn = Callable[[str], bool]  # may the caller's key use this public model?


def unknown_model(model: str) -> ProxyError:
    """The 404 for a model that does not exist and for one the caller may not use: the
    same answer, so a key cannot probe for the names of models it has no access to."""
    return not_found(
        f"The model '{model}' does not exist or you do not have access to it.",
        code="model_not_found",
        param="model",
    )


def preferred_plan(
    plan: PlanFn,
    model: str,
    kind: ModelKind,
    models: tuple[str, ...] | None,
    route: str | None,
    allowed: AllowedFn | None = None,
) -> tuple[Deployment, ...]:
    """The deployments to try: every listed model's plan in turn (each must exist: `plan`
    raises the usual 404), then only the providers the header names, if it names any.
    `allowed` (named keys, issue 11) refuses a listed model with that same 404."""
    deployments: list[Deployment] = []
    for name in models or (model,):
        if allowed is not None and not allowed(name):
            raise unknown_model(name)
        deployments.extend(plan(name, kind))
    if route is None:
        return tuple(deployments)
    wanted = providers_of(route)
    kept = tuple(d for d in deployments if d.provider in wanted)
    if not kept:
        serving = sorted({d.provider for d in deployments})
        raise invalid_request(
            f"The {ROUTE_HEADER} header names no provider that serves this request "
            f"(the models asked for are served by: {', '.join(serving)}).",
            ROUTE_HEADER,
            "invalid_route",
        )
    return kept


def providers_of(route: str) -> frozenset[str]:
    """`a, b` -> {"a", "b"}: comma-separated, blanks ignored."""
    return frozenset(p.strip() for p in route.split(",") if p.strip())
