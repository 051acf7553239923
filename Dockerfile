# syntax=docker/dockerfile:1
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PROXY_CONFIG=/etc/llm-proxy/providers.yaml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY proxy ./proxy
RUN pip install . && useradd --system --uid 10001 --no-create-home proxy

# The routing table is mounted here (a ConfigMap in Kubernetes); the example is the default.
COPY providers.yaml /etc/llm-proxy/providers.yaml

USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2).status != 200)"

ENTRYPOINT ["python", "-m", "proxy", "--host", "0.0.0.0", "--port", "8080"]
