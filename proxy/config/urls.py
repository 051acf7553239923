"""Upstream base URLs: only http(s) from config, no credentials, never a cloud metadata
service (link-local addresses, their other spellings, and the metadata host names).

The host is checked the way the connection will resolve it (issue 16, item 11): the OS
resolver reads `0xa9fea9fe`, `169.254.43518` and `0251.0376.0251.0376` as 169.254.169.254
(inet_aton's legacy forms), and an IPv6 address can carry an IPv4 one inside it
(`::ffff:169.254.169.254`, NAT64, 6to4, Teredo).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

import httpx

from proxy.config.values import ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Metadata endpoints outside 169.254.0.0/16 and fe80::/10: AWS's IPv6 IMDS, Alibaba's.
_METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
)
# Names that resolve to a metadata service (GCP, AWS) wherever the config is deployed.
_METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOSTNAME = re.compile(r"[a-z0-9_.-]+")  # after IDNA: what DNS can resolve


def parse_base_url(url: str, path: str) -> str:
    """`url` is the expanded value: errors say what is wrong, never echo it (it may hold a
    ${VAR}'s value)."""
    invalid = f"{path}: not a valid URL (check brackets and the port)"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (validates the port: a bad one raises ValueError)
    except ValueError:
        raise ConfigError(invalid) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{path}: expected an http(s) URL such as https://api.example.com/v1")
    if parts.username or parts.password:
        raise ConfigError(f"{path}: credentials in the URL are not allowed; use api_key")
    if parts.query or parts.fragment:
        raise ConfigError(f"{path}: must not have a query or fragment")
    _refuse_metadata(host, path)
    try:  # the host as the HTTP client will send and resolve it (IDNA, lower case)
        client_host = httpx.URL(url).raw_host.decode("ascii")
    except (ValueError, httpx.InvalidURL):
        raise ConfigError(invalid) from None
    if not _HOSTNAME.fullmatch(client_host) and not _addresses(client_host):
        raise ConfigError(f"{path}: the host is neither a host name nor an IP address")
    _refuse_metadata(client_host, path)
    return url.rstrip("/")


def _refuse_metadata(host: str, path: str) -> None:
    if is_metadata_host(host):
        raise ConfigError(
            f"{path}: link-local or cloud metadata addresses are not allowed as an upstream"
        )


def is_metadata_host(hostname: str) -> bool:
    host = hostname.lower().rstrip(".")
    if host in _METADATA_NAMES:
        return True
    return any(_is_metadata_address(a) for a in _addresses(host))


def _addresses(host: str) -> list[IPAddress]:
    """Every address `host` stands for, if it is a numeric host in any accepted spelling."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # a zone id does not matter
    except ValueError:
        try:
            # inet_aton takes what getaddrinfo takes: hex, octal, 1-4 parts.
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return []
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour]
        embedded.append(address.teredo[1] if address.teredo else None)
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        found.extend(a for a in embedded if a is not None)
    return found


def _is_metadata_address(address: IPAddress) -> bool:
    return address.is_link_local or address in _METADATA_ADDRESSES
