"""auth and admin: key digests and the admin bind address are validated with the config."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, parse_config

BASE = """
providers: {m: {type: mock}}
models: {demo: [{provider: m, model: x}]}
"""


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ('{api_keys: ["sha256:abc"]}', "auth.api_keys[0]: sha256: must be followed by 64 hex"),
        ('{api_keys: ["sha256:' + "g" * 64 + '"]}', "auth.api_keys[0]: sha256: must be"),
        ('{api_keys: ["short"]}', "auth.api_keys[0]: a client key must be at least 8"),
    ],
)
def test_bad_client_keys_fail_validation(auth: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + f"auth: {auth}\n", {})
    assert str(info.value).startswith(expected)


def test_a_good_digest_passes() -> None:
    config = parse_config(BASE + 'auth: {api_keys: ["sha256:' + "a" * 64 + '"]}\n', {})
    assert len(config.auth.api_keys) == 1


def test_admin_host_defaults_to_loopback_and_is_validated() -> None:
    auth = "auth: {disabled: true}\n"
    assert parse_config(BASE + auth, {}).admin.host == "127.0.0.1"
    opened = parse_config(BASE + auth + "admin: {port: 9090, host: 0.0.0.0}\n", {})
    assert opened.admin.host == "0.0.0.0"
    for bad in ("example.com", "7"):
        with pytest.raises(ConfigError, match=r"^admin\.host: expected an IP address"):
            parse_config(BASE + auth + f"admin: {{port: 9090, host: {bad}}}\n", {})
