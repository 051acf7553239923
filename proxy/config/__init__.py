"""providers.yaml -> frozen dataclasses, validated once at startup.

Every error names the YAML path and what was expected, e.g.
`models.smart[1].provider: unknown provider 'opeani' (known: claude, openai)`.
`${VAR}` (and `${VAR:-default}`) are expanded from the environment. One module per section:
providers, routes (models), access (auth, admin), server; urls checks upstream URLs,
values holds the typed readers, and source reads the file with its size bounded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from proxy.config.access import AdminConfig, AuthConfig, parse_admin, parse_auth
from proxy.config.keys import Budget, BudgetPeriod, KeyLimits, NamedKey, check_key_models
from proxy.config.providers import (
    PROVIDER_TYPES,
    BreakerConfig,
    ProviderConfig,
    ProviderType,
    check_options,
    parse_providers,
    provider_option,
)
from proxy.config.routes import Deployment, ModelKind, Price, parse_model_kinds, parse_models
from proxy.config.server import ServerConfig, parse_server
from proxy.config.source import load_yaml, read_text
from proxy.config.state import StateConfig, parse_state
from proxy.config.values import ConfigError, Secret, expand_vars, mapping, reject_unknown

__all__ = [
    "PROVIDER_TYPES",
    "AdminConfig",
    "AuthConfig",
    "BreakerConfig",
    "Budget",
    "BudgetPeriod",
    "Config",
    "ConfigError",
    "Deployment",
    "KeyLimits",
    "ModelKind",
    "NamedKey",
    "Price",
    "ProviderConfig",
    "ProviderType",
    "Secret",
    "ServerConfig",
    "StateConfig",
    "check_options",
    "expand_vars",
    "load_config",
    "parse_config",
    "provider_option",
]


@dataclass(frozen=True)
class Config:
    providers: Mapping[str, ProviderConfig]
    models: Mapping[str, tuple[Deployment, ...]]
    auth: AuthConfig
    server: ServerConfig = field(default_factory=ServerConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    state: StateConfig = field(default_factory=StateConfig)
    warnings: tuple[str, ...] = ()
    embedding_models: frozenset[str] = frozenset()  # declared `kind: embeddings`
    digest: str = ""  # sha256 of the YAML text it was parsed from (shown by /admin/status)

    def kind_of(self, model: str) -> ModelKind:
        return "embeddings" if model in self.embedding_models else "chat"

    def missing_vars_of(self, model: str) -> tuple[str, ...]:
        names: list[str] = []
        for dep in self.models.get(model, ()):
            names.extend(v for v in self.providers[dep.provider].missing_vars if v not in names)
        return tuple(names)

    def enabled_deployments(self, model: str) -> tuple[Deployment, ...]:
        return tuple(d for d in self.models.get(model, ()) if self.providers[d.provider].enabled)


_LOOPBACK = frozenset({"127.0.0.1", "::1"})


def load_config(path: str, env: Mapping[str, str] | None = None) -> Config:
    return parse_config(read_text(path), os.environ if env is None else env, source=path)


def parse_config(text: str, env: Mapping[str, str], source: str = "<config>") -> Config:
    """Every failure is a one-line ConfigError (the CLI's exit 2), never a traceback: an
    unexpected ValueError or TypeError from a parser below is reported by its YAML-free
    kind only, since its message may quote an expanded ${VAR} (a secret)."""
    try:
        config = _parse(load_yaml(text, source), env)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ConfigError(f"{source}: invalid config ({type(exc).__name__})") from None
    return dataclasses.replace(config, digest=hashlib.sha256(text.encode()).hexdigest())


def _parse(raw: object, env: Mapping[str, str]) -> Config:
    root = mapping(raw, "(top level)")
    reject_unknown(root, "(top level)", {"providers", "models", "auth", "server", "admin", "state"})
    warnings: list[str] = []
    server = parse_server(root.get("server"))
    # A provider's pool follows what the server admits unless it sets its own cap.
    providers = parse_providers(root.get("providers"), env, warnings, server.max_in_flight)
    models = parse_models(root.get("models"), providers)
    embedding_models = parse_model_kinds(root.get("models"))
    auth = parse_auth(root.get("auth"), env)
    check_key_models(auth.keys, models)
    admin = parse_admin(root.get("admin"), env)
    if admin.port is not None and admin.api_key is None and admin.host not in _LOOPBACK:
        warnings.append(
            f"admin.host {admin.host} without admin.api_key: /metrics is open to anyone who "
            "can reach port " + str(admin.port)
        )
    return Config(
        providers=MappingProxyType(providers),
        models=MappingProxyType(models),
        auth=auth,
        server=server,
        admin=admin,
        state=parse_state(root.get("state"), env),
        warnings=tuple(warnings),
        embedding_models=embedding_models,
    )
