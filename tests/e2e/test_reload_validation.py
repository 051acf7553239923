"""A reload validates everything before anything changes (issue 10, item 3): a bad sha256
digest is a 422 on POST /admin/reload and a log line on SIGHUP, and the proxy keeps serving
on its current config."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import ProxyProcess

ADMIN_KEY = "admin-secret-key-555555"
CLIENT_KEY = "client-secret-key-777777"
GOOD = f"""
providers: {{m: {{type: mock}}}}
models: {{demo: [{{provider: m, model: x}}]}}
auth: {{api_keys: ["{CLIENT_KEY}"]}}
admin: {{api_key: "{ADMIN_KEY}"}}
"""
BAD_DIGEST = GOOD.replace(f'"{CLIENT_KEY}"', '"sha256:0123"')


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[ProxyProcess, Path]]:
    path = tmp_path / "providers.yaml"
    path.write_text(GOOD)
    process = ProxyProcess(str(path), {})
    try:
        yield process.wait_ready(), path
    finally:
        process.stop()


def _chat_ok(url: str) -> bool:
    body = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers).status_code == 200


def test_a_bad_digest_is_refused_by_both_reload_paths(proxy: tuple[ProxyProcess, Path]) -> None:
    process, path = proxy
    path.write_text(BAD_DIGEST)
    refused = httpx.post(
        f"{process.url}/admin/reload", headers={"authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert refused.status_code == 422, refused.text
    assert "auth.api_keys[0]: sha256:" in refused.json()["message"]
    assert _chat_ok(process.url)

    process.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10  # errors are written at once, not batched
    while process.output().count("reload refused") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _chat_ok(process.url)
    process.stop()
    refusals = [
        line
        for line in (json.loads(x) for x in process.log_lines() if x.startswith("{"))
        if str(line.get("msg", "")).startswith("reload refused")
    ]
    assert len(refusals) == 2, process.output()  # the admin call's and SIGHUP's
    assert all("auth.api_keys[0]: sha256:" in str(r["msg"]) for r in refusals)
    assert "Traceback" not in process.output()
