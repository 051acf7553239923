from __future__ import annotations

import pytest

from proxy.config import ConfigError
from proxy.config.state import parse_state


def test_default_max_tokens_default_and_value() -> None:
    assert parse_state({}, {}).default_max_tokens == 4096
    assert parse_state({"default_max_tokens": 512}, {}).default_max_tokens == 512


@pytest.mark.parametrize("bad", [0, -1, "many", 1.5, True])
def test_default_max_tokens_rejects(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"^state\.default_max_tokens: "):
        parse_state({"default_max_tokens": bad}, {})
