"""The tests' one Prometheus scraper: a /metrics page -> {(sample name, labels): value}.

`value` and `delta` match a label set exactly; `Metrics.value` sums every sample whose labels
include the given ones (e.g. a counter over all its `status` values).
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = float(sample.value)
    return samples


def scrape(base_url: str, headers: dict[str, str] | None = None) -> Samples:
    return parse(httpx.get(f"{base_url}/metrics", headers=headers or {}).text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


class Metrics:
    """One scrape, read by label subsets."""

    def __init__(self, text: str) -> None:
        self.samples = parse(text)
        self.names = {name for name, _ in self.samples}

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
        wanted = set(labels.items())
        return sum(v for (n, lab), v in self.samples.items() if n == name and wanted <= lab)

    def has(self, name: str) -> bool:
        return name in self.names
