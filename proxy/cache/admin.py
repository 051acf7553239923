"""GET /admin/cache (entries, bytes, hits, misses, coalesced, evictions) and DELETE
/admin/cache (all entries, or `?model=` one public model's); admin auth as /admin/reload."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from proxy.endpoints import JSON, _check_admin, _state
from proxy.errors import ProxyError


async def admin_cache(request: Request) -> Response:
    state = _state(request)
    if state.admin_key is None:
        raise ProxyError(
            403,
            "permission_error",
            "Set admin.api_key in the config to enable /admin/cache.",
            code="admin_disabled",
        )
    _check_admin(request)
    cache = state.cache
    if request.method == "DELETE":
        model = request.query_params.get("model") or None
        removed = await cache.store.clear(model) if cache is not None else 0
        return Response(orjson.dumps({"cleared": removed, "model": model}), media_type=JSON)
    body = cache.stats() if cache is not None else {"enabled": False}
    return Response(orjson.dumps({"enabled": True, **body} if cache else body), media_type=JSON)
