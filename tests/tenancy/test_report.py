from __future__ import annotations

import datetime as dt
import hashlib

import orjson

from proxy.config import Budget, KeyLimits, NamedKey, Secret
from proxy.tenancy.limiter import Limiter
from proxy.tenancy.policy import Policy
from proxy.tenancy.report import key_reports
from proxy.tenancy.store import Store
from tests.tenancy.clock import Clock

KEY = "sk-search-team-secret"


async def test_admin_view_shows_use_and_never_a_key(store_and_clock: tuple[Store, Clock]) -> None:
    store, clock = store_and_clock
    digest = "sha256:" + hashlib.sha256(b"sk-ops-team-secret").hexdigest()
    expires = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
    policy = Policy(
        [
            NamedKey(
                "search-team",
                Secret(KEY),
                limits=KeyLimits(rpm=60, tpm=1000),
                budget=Budget(5, "total"),
                expires=expires,
            ),
            NamedKey("ops", Secret(digest)),
        ]
    )
    limiter = Limiter(store, 660, wall=clock)
    answered = await limiter.reserve(policy.tenants["search-team"], 300, 0.03)
    await answered.reconcile(120, 0.012)
    await limiter.reserve(policy.tenants["search-team"], 200, 0.02)  # still in flight

    reports = await key_reports(policy.tenants.values(), store, now=clock())
    search, ops = reports
    assert search == {
        "name": "search-team",
        "limits": {"rpm": 60, "tpm": 1000, "max_in_flight": None},
        "requests_this_minute": 2,
        "tokens_this_minute": 320,
        "in_flight": 1,
        "spend_usd": 0.032,
        "budget": {"usd": 5.0, "period": "total"},
        "expires": "2027-02-01T00:00:00+00:00",
    }
    assert (ops["requests_this_minute"], ops["budget"], ops["expires"]) == (0, None, None)
    text = orjson.dumps(reports).decode()
    assert KEY not in text and digest[7:] not in text
