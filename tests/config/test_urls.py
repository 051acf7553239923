"""base_url: every spelling of a metadata address is refused; errors never echo the URL."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError
from proxy.config.urls import parse_base_url

METADATA = [
    "http://169.254.169.254/v1",
    "http://0xa9fea9fe/v1",  # hex, one part
    "http://169.254.43518/v1",  # two parts
    "http://0251.0376.0251.0376/v1",  # octal
    "http://2852039166/v1",  # decimal
    "http://[::ffff:169.254.169.254]/v1",  # IPv4-mapped
    "http://[::ffff:a9fe:a9fe]/v1",
    "http://[64:ff9b::a9fe:a9fe]/v1",  # NAT64
    "http://[2002:a9fe:a9fe::1]/v1",  # 6to4
    "http://[fe80::1%25eth0]/v1",  # link-local with a zone
    "http://[fd00:ec2::254]/v1",  # AWS IMDS over IPv6
    "http://100.100.100.200/v1",  # Alibaba Cloud
    "http://metadata.google.internal/v1",
    "http://METADATA.Google.Internal./v1",  # case and the root dot
    "http://metadata/v1",
    "http://instance-data.ec2.internal/v1",
]


@pytest.mark.parametrize("url", METADATA)
def test_metadata_hosts_are_refused_in_every_spelling(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^p\.base_url: link-local or cloud metadata"):
        parse_base_url(url, "p.base_url")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1",
        "http://127.0.0.1:8080/v1",
        "http://[::1]:9000",
        "http://10.0.0.5/v1",
        "https://metadata.example.com/v1",
        "http://llm-proxy_upstream.svc.cluster.local:8000/v1",
        "https://bücher.example/v1",
    ],
)
def test_ordinary_hosts_pass(url: str) -> None:
    assert parse_base_url(url, "p") == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://[sk-live-secret-value]/v1",  # what `http://[${VAR}]/v1` expands to
        "http://sk-live-secret-value:99999/v1",
        "ftp://sk-live-secret-value/v1",
        "sk-live-secret-value",
        "http://sk-live secret-value/v1",  # the client would send it %-encoded
        "http://[::1]sk-live-secret-value/v1",
    ],
)
def test_a_bad_url_is_a_config_error_that_does_not_echo_it(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_base_url(url, "p.base_url")
    assert str(info.value).startswith("p.base_url: ")
    assert "secret" not in str(info.value)
    assert info.value.__context__ is None or info.value.__suppress_context__
