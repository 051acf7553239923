"""What `GET /admin/keys` shows per named key: limits, this minute's use, spend, budget, expiry.

Built from the config entry and one `usage` call per key; never the key or its digest.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TypedDict

from proxy.config import BudgetPeriod
from proxy.tenancy.limiter import period_of
from proxy.tenancy.policy import Tenant
from proxy.tenancy.store import Store


class LimitsView(TypedDict):
    rpm: int | None
    tpm: int | None
    max_in_flight: int | None


class BudgetView(TypedDict):
    usd: float
    period: BudgetPeriod


class KeyReport(TypedDict):
    name: str
    limits: LimitsView
    requests_this_minute: int
    tokens_this_minute: int
    in_flight: int
    spend_usd: float  # this budget period (this UTC month when the key has no budget)
    budget: BudgetView | None
    expires: str | None  # ISO 8601, UTC: the first instant the key is rejected


async def key_reports(
    tenants: Iterable[Tenant], store: Store, now: float | None = None
) -> list[KeyReport]:
    when = time.time() if now is None else now
    reports: list[KeyReport] = []
    for tenant in tenants:
        named = tenant.key
        budget = named.budget
        period, _ = period_of(budget.period if budget else "month", when)
        usage = await store.usage(named.name, period)
        reports.append(
            KeyReport(
                name=named.name,
                limits=LimitsView(
                    rpm=named.limits.rpm,
                    tpm=named.limits.tpm,
                    max_in_flight=named.limits.max_in_flight,
                ),
                requests_this_minute=usage.requests,
                tokens_this_minute=usage.tokens,
                in_flight=usage.in_flight,
                spend_usd=usage.spent_micros / 1_000_000,
                budget=None if budget is None else BudgetView(usd=budget.usd, period=budget.period),
                expires=None if named.expires is None else named.expires.isoformat(),
            )
        )
    return reports
