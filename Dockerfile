# syntax=docker/dockerfile:1
# Build stage: the wheel, with the compiled span recorder (proxy/_tracing_span.c) built by
# the full image's C compiler, which the runtime image does not carry.
FROM python:3.12 AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY proxy ./proxy
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PROXY_CONFIG=/etc/llm-proxy/providers.yaml

WORKDIR /app
COPY --from=build /wheels /wheels
# The import check fails the build if the wheel came without the compiled recorder.
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && python -c "import proxy._tracing_span" \
    && useradd --system --uid 10001 --no-create-home proxy

# The routing table is mounted here (a ConfigMap in Kubernetes); the example is the default.
COPY providers.yaml /etc/llm-proxy/providers.yaml

USER 10001
# The API only. The example config puts /metrics and /admin/* on port 9090 bound to the
# container's loopback (admin.host defaults to 127.0.0.1): open it from your own config,
# with admin.api_key, if Prometheus must scrape it.
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2).status != 200)"

# 0.0.0.0: the API must be reachable from outside the container; a sidecar that only its
# own pod calls should pass --host 127.0.0.1 (see deploy/kubernetes/sidecar.yaml).
ENTRYPOINT ["python", "-m", "proxy", "--host", "0.0.0.0", "--port", "8080"]
