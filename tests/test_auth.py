from __future__ import annotations

import hashlib

import pytest

from proxy.auth import Authenticator
from proxy.config import ConfigError, Secret
from proxy.errors import ProxyError

KEY = "client-key-123456"


@pytest.mark.parametrize(
    "keys", [[Secret(KEY)], [Secret("sha256:" + hashlib.sha256(KEY.encode()).hexdigest())]]
)
def test_plain_and_digest_keys(keys: list[Secret]) -> None:
    auth = Authenticator(keys)
    auth.check(f"Bearer {KEY}", None)
    auth.check(None, KEY)
    auth.check(f"bearer  {KEY}", None)


@pytest.mark.parametrize(
    ("authorization", "x_api_key"),
    [
        (None, None),
        ("Bearer wrong-key-000000", None),
        ("Basic abc", None),
        ("Bearer", None),
        (None, "nope"),
    ],
)
def test_rejections_are_identical(authorization: str | None, x_api_key: str | None) -> None:
    with pytest.raises(ProxyError) as info:
        Authenticator([Secret(KEY)]).check(authorization, x_api_key)
    assert info.value.status == 401
    assert info.value.headers == {"www-authenticate": "Bearer"}
    expected = b'"message":"Invalid or missing API key.'
    assert expected in info.value.to_openai_body()


def test_bad_digest_is_config_error() -> None:
    with pytest.raises(ConfigError, match=r"auth\.api_keys\[0\]"):
        Authenticator([Secret("sha256:xyz")])


def test_disabled_admits_everyone() -> None:
    Authenticator([], disabled=True).check(None, None)
