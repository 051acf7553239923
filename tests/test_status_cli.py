"""proxy/status_cli.py: the table, and the one-line failures (unreachable, 401, 403, 404)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from proxy import status_cli
from tests.servers import free_port

ADMIN_KEY = "admin-cli-key-0987654321"
NOW = datetime(2026, 11, 30, 3, 0, 0, tzinfo=UTC).timestamp()
YAML = """
providers:
  local: {type: mock}
models:
  m: [{provider: local, model: x}]
"""
WITH_ADMIN = YAML + f'admin: {{api_key: "{ADMIN_KEY}"}}\n'


def _status() -> dict[str, Any]:
    """A status as GET /admin/status answers it: one provider open, one cooling down."""
    return {
        "version": "9.9.9",
        "worker": {"pid": 4242, "workers": 2},
        "uptime_seconds": 3723.0,
        "draining": False,
        "in_flight_requests": 3,
        "config": {"sha256": "ab" * 32, "loaded_at": "2026-11-30T02:59:00.000Z"},
        "providers": {
            "primary": {
                "type": "openai",
                "enabled": True,
                "usable": False,
                "missing_vars": [],
                "breaker": {
                    "state": "open",
                    "since": "2026-11-30T02:59:50.000Z",
                    "reason": "5 consecutive failures, last: server_error",
                    "consecutive_failures": 0,
                    "open_seconds_left": 20.0,
                },
                "cooldown": None,
                "in_flight_attempts": 0,
                "pool": {"in_use": 0, "limit": 100, "waiting": 0},
                "last_error": {"outcome": "server_error", "at": "2026-11-30T02:59:50.000Z"},
            },
            "backup": {
                "type": "anthropic",
                "enabled": True,
                "usable": False,
                "missing_vars": [],
                "breaker": {
                    "state": "closed",
                    "since": "2026-11-30T02:00:00.000Z",
                    "reason": "started",
                    "consecutive_failures": 1,
                    "open_seconds_left": 0.0,
                },
                "cooldown": {"seconds_left": 6.5, "reason": "rate limited (429), Retry-After 7s"},
                "in_flight_attempts": 2,
                "pool": {"in_use": 2, "limit": 4, "waiting": 1},
                "last_error": {"outcome": "rate_limited", "at": "2026-11-30T02:59:59.500Z"},
            },
            "later": {
                "type": "gemini",
                "enabled": False,
                "usable": False,
                "missing_vars": ["GEMINI_KEY"],
                "breaker": None,
                "cooldown": None,
                "in_flight_attempts": 0,
                "pool": None,
                "last_error": None,
            },
        },
        "models": {
            "m": [
                {"provider": "primary", "model": "p", "usable": False},
                {"provider": "backup", "model": "b", "usable": False},
            ],
        },
    }


def _rows(text: str) -> dict[str, str]:
    """Table line by its first cell."""
    return {line.split()[0]: line for line in text.splitlines() if line.strip()}


def test_render_the_table() -> None:
    status = _status()
    text = status_cli.render(status, NOW)
    lines = text.splitlines()
    assert lines[0] == (
        "llm-proxy 9.9.9  worker pid 4242 (of 2)  up 1h02m  serving  3 requests in flight"
    )
    assert lines[1] == f"config sha256 {'ab' * 6}  loaded 2026-11-30T02:59:00.000Z (1m00s ago)"
    rows = _rows(text)
    header = rows["PROVIDER"]
    # Columns line up: every cell starts where its header does.
    for name, cell in [("primary", "open for 10.0s, 20.0s left"), ("backup", "closed for 1h00m")]:
        assert rows[name].index(cell) == header.index("BREAKER")
    assert rows["backup"].index("6.5s left: rate limited (429), Retry-After 7s") == header.index(
        "COOLDOWN"
    )
    assert "2/4 +1 queued" in rows["backup"]
    assert "rate_limited 0.5s ago" in rows["backup"]
    assert "server_error 10.0s ago" in rows["primary"]
    assert "disabled (unset: GEMINI_KEY)" in rows["later"]
    assert rows["m"].split(None, 1)[1] == "primary/p (down) > backup/b (down)"


def test_render_draining() -> None:
    status = _status()
    status["draining"] = True
    assert "DRAINING" in status_cli.render(status, NOW).splitlines()[0]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0.0s"),
        (3.24, "3.2s"),
        (59.9, "59.9s"),
        (245, "4m05s"),
        (7380, "2h03m"),
        (273600, "3d04h"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert status_cli.duration(seconds) == text


def test_status_command_prints_the_table(
    start_proxy: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = start_proxy(WITH_ADMIN)
    monkeypatch.setenv("PROXY_ADMIN_KEY", ADMIN_KEY)
    assert status_cli.main(["--url", url]) == 0
    out, err = capsys.readouterr()
    rows = _rows(out)
    assert "closed for" in rows["local"] and " yes " in rows["local"]
    assert rows["m"].endswith("local/x (ok)")
    assert ADMIN_KEY not in out + err
    assert status_cli.main(["--url", url, "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["providers"]["local"]["usable"] is True


@pytest.mark.parametrize(
    ("config", "key", "expected"),
    [
        (WITH_ADMIN, None, "answered 401: the admin key is missing: set PROXY_ADMIN_KEY"),
        (WITH_ADMIN, "wrong-admin-key-1234", "answered 401: the admin key is wrong"),
        (YAML, ADMIN_KEY, "answered 403: Set admin.api_key in the config"),
    ],
)
def test_status_command_refused(
    start_proxy: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    config: str,
    key: str | None,
    expected: str,
) -> None:
    url = start_proxy(config)
    monkeypatch.delenv("PROXY_ADMIN_KEY", raising=False)
    args = ["--url", url] + (["--admin-key", key] if key else [])
    assert status_cli.main(args) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and expected in err, err
    assert ADMIN_KEY not in err and (key is None or key not in err)


def test_status_command_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert status_cli.main(["--url", url, "--admin-key", ADMIN_KEY, "--timeout", "2"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"proxy status: cannot reach {url}/admin/status")
    assert ADMIN_KEY not in err


def test_status_command_on_the_api_port_when_admin_has_its_own(
    start_proxy: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    config = YAML + f'admin: {{api_key: "{ADMIN_KEY}", port: {free_port()}}}\n'
    url = start_proxy(config)
    assert status_cli.main(["--url", url, "--admin-key", ADMIN_KEY]) == 1
    err = capsys.readouterr().err
    assert "answered 404" in err and "admin.port" in err and err.count("\n") == 1


def test_default_url_follows_the_usual_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROXY_STATUS_URL", raising=False)
    monkeypatch.setenv("PROXY_PORT", "9191")
    assert status_cli.parse_args([]).url == "http://127.0.0.1:9191"
    monkeypatch.delenv("PROXY_PORT")
    assert status_cli.parse_args([]).url == "http://127.0.0.1:8080"
