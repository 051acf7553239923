"""The `models:` section: each public model name -> its ordered deployments, with prices.

A model is a list of deployments (a chat model), or `{kind: embeddings, deployments: [...]}`
for a model served on /v1/embeddings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from proxy.config.providers import ProviderConfig
from proxy.config.values import ConfigError, mapping, number, reject_unknown, shown


@dataclass(frozen=True)
class Price:
    """USD per million tokens; cached input tokens are billed at `cached_per_mtok`."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cached_per_mtok: float = 0.0

    def cost(self, prompt: int, completion: int, cached: int) -> float:
        uncached = max(prompt - cached, 0)
        total = (
            uncached * self.input_per_mtok
            + cached * self.cached_per_mtok
            + completion * self.output_per_mtok
        )
        return total / 1_000_000


@dataclass(frozen=True)
class Deployment:
    provider: str
    model: str
    price: Price | None = None


ModelKind = Literal["chat", "embeddings"]
MODEL_KINDS: tuple[ModelKind, ...] = ("chat", "embeddings")


def parse_models(
    raw: Any, providers: Mapping[str, ProviderConfig]
) -> dict[str, tuple[Deployment, ...]]:
    section = mapping(raw, "models")
    if not section:
        raise ConfigError("models: expected at least one public model name")
    models = {}
    for public, value in section.items():
        path = f"models.{public}"
        if not isinstance(public, str) or not public.strip():
            raise ConfigError(f"{path}: a public model name must be a non-empty string")
        if isinstance(value, Mapping):
            reject_unknown(value, path, {"kind", "deployments"})
            _kind(value, path)
            value, path = value.get("deployments"), f"{path}.deployments"
        if not isinstance(value, list) or not value:
            raise ConfigError(
                f"{path}: expected a non-empty list of {{provider, model}} deployments"
            )
        models[public] = tuple(
            _parse_deployment(item, f"{path}[{i}]", providers) for i, item in enumerate(value)
        )
    return models


def _parse_deployment(raw: Any, path: str, providers: Mapping[str, ProviderConfig]) -> Deployment:
    data = mapping(raw, path)
    reject_unknown(data, path, {"provider", "model", "price"})
    provider = data.get("provider")
    if not isinstance(provider, str) or provider not in providers:
        known = ", ".join(sorted(providers))
        raise ConfigError(f"{path}.provider: unknown provider {shown(provider)} (known: {known})")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise ConfigError(f"{path}.model: expected the upstream model name as a string")
    return Deployment(provider=provider, model=model, price=_parse_price(data.get("price"), path))


def _parse_price(raw: Any, path: str) -> Price | None:
    if raw is None:
        return None
    where = f"{path}.price"
    data = mapping(raw, where)
    reject_unknown(data, where, {"input_per_mtok", "output_per_mtok", "cached_per_mtok"})
    input_price = number(data, "input_per_mtok", where, 0.0, minimum=0.0)
    return Price(
        input_per_mtok=input_price,
        output_per_mtok=number(data, "output_per_mtok", where, 0.0, minimum=0.0),
        cached_per_mtok=number(data, "cached_per_mtok", where, input_price, minimum=0.0),
    )


def parse_model_kinds(raw: Any) -> frozenset[str]:
    """The public models declared `kind: embeddings` (parse_models has validated the section)."""
    section = mapping(raw, "models")
    return frozenset(
        name
        for name, value in section.items()
        if isinstance(value, Mapping) and _kind(value, f"models.{name}") == "embeddings"
    )


def _kind(value: Mapping[str, Any], path: str) -> ModelKind:
    kind = value.get("kind", "chat")
    if kind not in MODEL_KINDS:
        raise ConfigError(
            f"{path}.kind: expected one of {', '.join(MODEL_KINDS)}, got {shown(kind)}"
        )
    return kind  # type: ignore[no-any-return]
