"""The CLI (`python -m proxy`): every config failure exits 2 with one line and no traceback,
and nothing in that line is an expanded ${VAR}."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.__main__ import load_or_exit, load_validated
from proxy.config import ConfigError
from tests.config.test_source import BOMB

MOCK = """
providers:
  m: {type: mock}
models: {demo: [{provider: m, model: x}]}
"""
SECRET = "sk-live-0123456789abcdef"


def _run(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "proxy", "--config", str(path), "--port", "18080", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "UPSTREAM": SECRET, "PROXY_LOG_FORMAT": "text"},
    )


CASES = {
    "bad digest": (
        MOCK + 'auth: {api_keys: ["sha256:1234"]}\n',
        "config error: auth.api_keys[0]: sha256: must be followed by 64 hex digits",
    ),
    "bracketed variable": (
        MOCK.replace(
            "m: {type: mock}", 'o: {type: openai, base_url: "http://[${UPSTREAM}]/v1"}'
        ).replace("provider: m", "provider: o")
        + "auth: {disabled: true}\n",
        "config error: providers.o.base_url: not a valid URL",
    ),
    "alias bomb": (BOMB, "config error: "),
    "admin port is the API port": (
        MOCK + "auth: {disabled: true}\nadmin: {port: 18080}\n",
        "config error: admin.port: 18080 is the API port (--port)",
    ),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_config_failures_exit_2_with_one_line(tmp_path: Path, text: str, expected: str) -> None:
    result = _run(tmp_path, text)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert SECRET not in result.stderr


def test_load_validated_refuses_what_the_app_would_refuse(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(MOCK + 'auth: {api_keys: ["sha256:' + "z" * 64 + '"]}\n')
    with pytest.raises(ConfigError, match=r"^auth\.api_keys\[0\]: sha256:"):
        load_validated(str(path))


def test_a_worker_that_cannot_load_the_config_logs_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("providers: {")  # e.g. a broken file picked up by a SIGHUP restart
    with caplog.at_level(logging.ERROR, logger="proxy"), pytest.raises(SystemExit) as exit_:
        load_or_exit(str(path))
    assert exit_.value.code == 2
    assert any(r.getMessage().startswith("config error, this worker") for r in caplog.records)
