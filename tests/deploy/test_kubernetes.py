"""The Kubernetes examples: schema-valid, and consistent with the proxy they run.

kubectl's `apply --dry-run=client` needs a reachable API server for its OpenAPI schema,
which a test machine does not have; kubernetes-validate checks the same schemas offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from proxy.config import parse_config

DEPLOY = Path(__file__).parents[2] / "deploy" / "kubernetes"
DOCS = [
    (path.name, doc)
    for path in sorted(DEPLOY.glob("*.yaml"))
    for doc in yaml.safe_load_all(path.read_text())
    if doc
]


@pytest.mark.parametrize(("name", "doc"), DOCS, ids=[f"{n}:{d['kind']}" for n, d in DOCS])
def test_manifest_is_schema_valid(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, "1.32.0", strict=True)


def _proxy_containers() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    found = []
    for _, doc in DOCS:
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            if "llm-proxy" in container["image"]:
                found.append((pod, container))
    return found


def _configured() -> Any:
    config_map = next(d for _, d in DOCS if d["kind"] == "ConfigMap")
    env = {
        k: "x" * 16
        for k in (
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "GEMINI_API_KEY",
            "PROXY_API_KEY",
            "ADMIN_API_KEY",
        )
    }
    return parse_config(config_map["data"]["providers.yaml"], env)


def test_embedded_config_is_valid() -> None:
    assert _configured().admin.port == 9090


def test_both_examples_run_the_proxy_with_probes_drain_and_scraping() -> None:
    config = _configured()
    containers = _proxy_containers()
    assert len(containers) == 2  # the sidecar and the standalone Deployment
    for pod, container in containers:
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
        assert pod["terminationGracePeriodSeconds"] >= pre_stop + config.server.drain_timeout + 1
        assert container["resources"]["requests"]
        assert {p["containerPort"] for p in container["ports"]} == {8080, config.admin.port}
        assert container["securityContext"]["runAsNonRoot"] is True
    for _, doc in DOCS:
        if doc["kind"] == "Deployment":
            annotations = doc["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/port"] == str(config.admin.port)
            assert annotations["prometheus.io/path"] == "/metrics"


def test_no_key_is_committed() -> None:
    assert not any(d["kind"] == "Secret" for _, d in DOCS)
    text = "".join(p.read_text() for p in DEPLOY.glob("*.yaml"))
    assert "sk-" not in text
