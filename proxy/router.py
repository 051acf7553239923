"""Public model -> deployments, and the fallback loop over them.

For each deployment in priority order: skip providers whose breaker is open or that are
cooling down after a 429; otherwise build the upstream request, send it and judge the
result. Retryable failures (connect errors, timeouts, 429, 5xx, malformed replies) move on
to the next deployment; client errors (400, 404, 413, 422) are answered at once. Every
upstream response that is not handed on is closed before the next attempt. Only a
cancellation is a client disconnect; any other exception inside an attempt that is not an
upstream failure is a bug of ours: logged, counted as internal_error, answered 500.
A stream's upstream side (open to the commit point, then pump and verdict) is
streaming.StreamCall's; this module only decides which deployment it runs on.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from proxy import metrics
from proxy.breakers import Admission, ProviderHealth
from proxy.config import Config, Deployment, ModelKind
from proxy.errors import (
    Attempt,
    ProxyError,
    UpstreamError,
    all_deployments_failed,
    internal_error,
    invalid_request,
    model_unavailable,
    upstream_transport_error,
)
from proxy.preferences import preferred_plan, unknown_model
from proxy.providers.base import (
    Adapter,
    CallContext,
    Reply,
    StreamLimits,
    StreamPipe,
    UpstreamRequest,
)
from proxy.providers.pipes import DATA_SHAPE_ERRORS, malformed
from proxy.request import ChatRequest
from proxy.streaming import ERROR_BODY_LIMIT, StreamCall, StreamWire
from proxy.tenancy.cooldowns import SharedCooldowns
from proxy.tenancy.store import Store
from proxy.trace import RequestTrace
from proxy.upstream import TraceHeaders, Upstream

log = logging.getLogger("proxy")
SkipOutcome = Literal["skipped_open", "skipped_cooldown", "skipped_incompatible"]
T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    """What the app holds per provider, built once at startup."""

    adapter: Adapter
    upstream: Upstream
    health: ProviderHealth
    retries: int = 0
    retry_backoff: float = 0.25

    @property
    def name(self) -> str:
        return self.health.provider


class Router:
    def __init__(
        self, config: Config, routes: Mapping[str, Route], shared: Store | None = None
    ) -> None:
        self._routes = routes
        # The redis backend: 429 cooldowns shared by the replicas; None (memory): no awaits.
        self._cooldowns = SharedCooldowns(shared) if shared is not None else None
        self._plans: dict[str, tuple[Deployment, ...]] = {
            model: config.enabled_deployments(model) for model in config.models
        }
        self._missing = {model: config.missing_vars_of(model) for model in config.models}
        self._kinds = {model: config.kind_of(model) for model in config.models}
        self._max_response = config.server.max_response_bytes
        # One bound for a whole answer and for one streamed event (issue 10, item 11).
        self._limits = StreamLimits(self._max_response, config.server.max_precommit_bytes)
        self._request_timeout = config.server.request_timeout

    def unavailable_providers(self) -> list[str] | None:
        """The providers in use, if every one of them is unavailable now; else None."""
        names = {d.provider for plan in self._plans.values() for d in plan}
        if not names:
            return None
        down = sorted(n for n in names if self._routes[n].health.is_unavailable())
        return down if len(down) == len(names) else None

    def plan(self, model: str, kind: ModelKind = "chat") -> tuple[Deployment, ...]:
        deployments = self._plans.get(model)
        if deployments is None:
            raise unknown_model(model)
        if self._kinds[model] != kind:
            raise invalid_request(
                f"The model '{model}' is a {self._kinds[model]} model; it cannot serve {kind}.",
                param="model",
                code="model_not_supported",
            )
        if not deployments:
            raise model_unavailable(model, self._missing[model])
        return deployments

    async def complete(
        self, req: ChatRequest, ctx: CallContext, request_id: str, trace: RequestTrace
    ) -> Reply:
        def build(route: Route, call: CallContext) -> UpstreamRequest:
            return route.adapter.build_request(req, call)

        def parse(route: Route, body: bytes, call: CallContext) -> Reply:
            return route.adapter.parse_response(body, call)

        return await self.exchange(req.model, "chat", ctx, request_id, trace, build, parse)

    async def exchange(
        self,
        model: str,
        kind: ModelKind,
        ctx: CallContext,
        request_id: str,
        trace: RequestTrace,
        build: BuildFn,
        parse: ParseFn,
        parse_error: ErrorFn | None = None,
        compatible: CompatibleFn | None = None,
    ) -> Reply:
        """One non-stream request/response call of any kind (chat, embeddings, other
        surfaces), with the same fallback, breakers, retries and deadlines: `build` and
        `parse` say what the adapter sends and how it reads a 2xx answer; errors go through
        `parse_error` (default: the adapter's); `compatible` may rule deployments out."""

        async def attempt(
            route: Route, call: CallContext, _: Admission, deadline: float, ttfb_at: float
        ) -> Reply:
            upstream_req = build(route, call)
            tracing = trace.span.headers if trace.span is not None else ()
            body = await self._try_exchange(
                route, upstream_req, request_id, (deadline, ttfb_at), tracing, parse_error
            )
            try:
                return parse(route, body, call)
            except DATA_SHAPE_ERRORS as exc:  # the upstream's JSON is not the shape it promised
                raise malformed(route.name, exc) from exc

        return await self._fallback_loop(model, ctx, trace, attempt, kind, compatible)

    async def open_stream(
        self, req: ChatRequest, ctx: CallContext, request_id: str, trace: RequestTrace
    ) -> StreamCall:
        """A stream opened up to its commit point; the caller must `serve` it at once (it
        owns the upstream response and the admission from here)."""

        def build(route: Route, call: CallContext) -> UpstreamRequest:
            return route.adapter.build_request(req, call)

        def pipe(route: Route, call: CallContext) -> StreamPipe:
            return route.adapter.stream_pipe(call)

        return await self.open_stream_with(
            req.model, ctx, request_id, trace, StreamWire(build, pipe)
        )

    async def open_stream_with(
        self,
        model: str,
        ctx: CallContext,
        request_id: str,
        trace: RequestTrace,
        wire: StreamWire,
        compatible: CompatibleFn | None = None,
    ) -> StreamCall:
        """open_stream for any surface: `wire` says what to send and how to stream it back."""

        async def attempt(
            route: Route, call: CallContext, admission: Admission, deadline: float, ttfb_at: float
        ) -> StreamCall:
            deadlines = (deadline, ttfb_at)
            return await StreamCall.open(route, admission, trace, wire, call, request_id, deadlines)

        return await self._fallback_loop(model, ctx, trace, attempt, "chat", compatible)

    async def _fallback_loop(
        self,
        model: str,
        ctx: CallContext,
        trace: RequestTrace,
        attempt: AttemptFn[T],
        kind: ModelKind = "chat",
        compatible: CompatibleFn | None = None,
    ) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._request_timeout
        attempts = trace.attempts
        errors: list[UpstreamError] = []
        if trace.models is None and trace.route is None:
            deployments = self.plan(model, kind)
        else:  # the request's own routing preferences (preferences.py)
            # A named key's access to every listed model was checked before (tenancy/gate.py).
            deployments = preferred_plan(self.plan, model, kind, trace.models, trace.route)
        first: Deployment | None = None  # the first deployment actually tried
        for deployment in deployments:
            route = self._routes[deployment.provider]
            if compatible is not None and not compatible(route, deployment, first):
                attempts.append(Attempt(route.name, "skipped_incompatible"))
                continue
            call = _with_model(ctx, deployment, self._limits)
            for retry in range(route.retries + 1):
                if loop.time() >= deadline:
                    raise self._exhausted(model, attempts, errors)
                if self._cooldowns is not None:
                    await self._cooldowns.take(route.health)
                admission = self._admit(route, attempts)
                if admission is None:
                    break
                first = first or deployment
                started = loop.time()
                ttfb_at = min(deadline, started + route.upstream.ttfb_timeout)
                if trace.span is not None:  # tracing on: this attempt's client span
                    trace.span.start_attempt(route.name, deployment.model)
                try:
                    result = await attempt(route, call, admission, deadline, ttfb_at)
                except (UpstreamError, TimeoutError) as exc:
                    error = _as_upstream_error(exc, route)
                    trace.upstream_seconds += loop.time() - started
                    if trace.span is not None:
                        trace.span.end_attempt(error.outcome, error)
                    self._judge(route, admission, error, attempts, errors)
                    metrics.observe_attempt(route.name, error.outcome, loop.time() - started)
                    if not error.retryable:
                        raise error from None
                    if not error.counts_for_breaker or retry == route.retries:
                        metrics.observe_fallback(model, route.name, error.outcome)
                        break  # a rate limit or a key problem: retrying here cannot help
                    await _backoff(route.retry_backoff, retry, deadline - loop.time())
                    continue
                except asyncio.CancelledError:  # the client went away: nobody's failure
                    route.health.release(admission)
                    metrics.observe_attempt(route.name, "client_disconnect", None)
                    raise
                except ProxyError:
                    # The request itself is wrong (the adapter refused to translate it: a 400
                    # naming the field): nothing was sent, so no attempt, nobody to blame.
                    route.health.release(admission)
                    raise
                except Exception as exc:  # a bug of ours: a 500, never the client's doing
                    route.health.release(admission)
                    raise self._internal(route, attempts, exc) from exc
                elapsed = loop.time() - started
                trace.upstream_seconds += elapsed
                if isinstance(result, StreamCall):  # its verdict comes at its end
                    metrics.observe_upstream_duration(route.name, elapsed)
                else:
                    metrics.observe_attempt(route.name, "ok", elapsed)
                    route.health.record_success(admission)
                    if trace.span is not None:
                        trace.span.end_attempt("ok")
                attempts.append(Attempt(route.name, "ok"))
                trace.provider, trace.upstream_model = deployment.provider, deployment.model
                trace.price = deployment.price
                return result
        raise self._exhausted(model, attempts, errors)

    async def _try_exchange(
        self,
        route: Route,
        upstream_req: UpstreamRequest,
        request_id: str,
        deadlines: tuple[float, float],  # (the request's, this attempt's first byte)
        tracing: TraceHeaders,
        parse_error: ErrorFn | None,
    ) -> bytes:
        """The 2xx body of one upstream call; a non-2xx answer raises the adapter's error
        (or `parse_error`'s)."""
        deadline, ttfb_at = deadlines
        # A wait for our own pool is not the provider's time: its clock starts after it.
        async with route.upstream.slot(deadline) as slot:
            ttfb_at = min(deadline, ttfb_at + slot.waited)
            # One timer per attempt: first the time to first byte, then the request deadline.
            async with asyncio.timeout_at(ttfb_at) as timer:
                response = await route.upstream.open(upstream_req, request_id, slot, tracing)
                timer.reschedule(deadline)
                try:
                    limit = self._max_response if response.status_code < 300 else ERROR_BODY_LIMIT
                    body = await route.upstream.read_body(response, limit)
                finally:
                    await response.aclose()
        if not 200 <= response.status_code < 300:
            if parse_error is not None:
                raise parse_error(route, response.status_code, response.headers, body)
            raise route.adapter.parse_error(response.status_code, response.headers, body)
        return body

    @staticmethod
    def _internal(route: Route, attempts: list[Attempt], exc: Exception) -> ProxyError:
        log.error("attempt on provider '%s' failed in the proxy", route.name, exc_info=exc)
        attempts.append(Attempt(route.name, "internal_error"))
        metrics.observe_attempt(route.name, "internal_error", None)
        return internal_error()

    @staticmethod
    def _admit(route: Route, attempts: list[Attempt]) -> Admission | None:
        admission = route.health.admit()
        if admission in ("ok", "probe"):
            return admission
        skipped: SkipOutcome = "skipped_cooldown" if admission == "cooldown" else "skipped_open"
        attempts.append(Attempt(route.name, skipped))
        return None

    def _judge(
        self,
        route: Route,
        admission: Admission,
        error: UpstreamError,
        attempts: list[Attempt],
        errors: list[UpstreamError],
    ) -> None:
        attempts.append(Attempt(route.name, error.outcome))
        errors.append(error)
        if error.outcome == "rate_limited":
            applied = route.health.start_cooldown(error.retry_after)
            if self._cooldowns is not None:
                self._cooldowns.tell(route.name, applied)
        if error.counts_for_breaker:
            route.health.record_failure(admission, error)
        else:
            route.health.release(admission, error)

    def _exhausted(
        self, model: str, attempts: list[Attempt], errors: list[UpstreamError]
    ) -> ProxyError:
        waits = [
            self._routes[a.provider].health.seconds_until_retry()
            for a in attempts
            if a.outcome != "ok"
        ]
        positive = [w for w in waits if w > 0]
        return all_deployments_failed(model, attempts, errors, min(positive) if positive else None)


async def _backoff(base: float, retry: int, remaining: float) -> None:
    """Full-jitter exponential backoff, never sleeping past the request deadline."""
    delay = random.uniform(0, base * (2**retry))
    await asyncio.sleep(max(0.0, min(delay, remaining - 0.001)))


def _with_model(ctx: CallContext, deployment: Deployment, limits: StreamLimits) -> CallContext:
    return CallContext(
        public_model=ctx.public_model,
        upstream_model=deployment.model,
        response_id=ctx.response_id,
        created=ctx.created,
        include_usage=ctx.include_usage,
        limits=limits,
        usage_for_proxy=ctx.usage_for_proxy,
    )


def _as_upstream_error(exc: UpstreamError | TimeoutError, route: Route) -> UpstreamError:
    if isinstance(exc, UpstreamError):
        return exc
    return upstream_transport_error(route.name, "timeout", "no answer in time")


# What an exchange sends for a deployment, and how it reads the deployment's 2xx body.
BuildFn = Callable[[Route, CallContext], UpstreamRequest]
ParseFn = Callable[[Route, bytes, CallContext], Reply]
# A non-2xx upstream answer -> the error to judge and answer (default: the adapter's).
ErrorFn = Callable[[Route, int, Mapping[str, str], bytes], UpstreamError]
# (route, deployment, the first deployment tried or None) -> may this deployment be tried?
# A False skips it with outcome skipped_incompatible (e.g. a conversation bound to a family).
CompatibleFn = Callable[[Route, Deployment, Deployment | None], bool]
# (route, call, admission, request deadline, this attempt's first-byte deadline)
AttemptFn = Callable[[Route, CallContext, Admission, float, float], Awaitable[T]]


def new_context(req: ChatRequest, response_id: str, need_usage: bool = False) -> CallContext:
    return CallContext(
        public_model=req.model,
        upstream_model=req.model,
        response_id=response_id,
        created=int(time.time()),
        include_usage=req.include_usage,
        usage_for_proxy=need_usage and req.stream and not req.include_usage,
    )
