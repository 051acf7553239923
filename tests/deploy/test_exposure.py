"""The shipped examples expose as little as they can (issue 16, item 14)."""

from __future__ import annotations

from pathlib import Path

import yaml

from proxy.config import parse_config

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"


def _docs(name: str) -> list[dict]:  # type: ignore[type-arg]
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def test_the_sidecar_api_listens_on_loopback_and_probes_the_admin_port() -> None:
    (deployment,) = [d for d in _docs("sidecar.yaml") if d["kind"] == "Deployment"]
    (proxy,) = deployment["spec"]["template"]["spec"]["initContainers"]
    args = proxy["args"]
    assert args[args.index("--host") + 1] == "127.0.0.1"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert proxy[probe]["httpGet"]["port"] == "admin"


def test_the_standalone_service_comes_with_a_network_policy() -> None:
    kinds = {d["kind"] for d in _docs("standalone.yaml")}
    assert {"Deployment", "Service", "NetworkPolicy"} <= kinds


def test_the_example_config_keeps_metrics_off_the_api_port_and_off_the_network() -> None:
    config = parse_config((ROOT / "providers.yaml").read_text(), {"PROXY_API_KEY": "k" * 16})
    assert config.admin.port is not None and config.admin.host == "127.0.0.1"


def test_an_open_admin_port_without_a_key_warns() -> None:
    text = """
providers: {m: {type: mock}}
models: {demo: [{provider: m, model: x}]}
auth: {disabled: true}
admin: {port: 9090, host: 0.0.0.0}
"""
    assert any(
        w.startswith("admin.host 0.0.0.0 without admin.api_key")
        for w in parse_config(text, {}).warnings
    )
