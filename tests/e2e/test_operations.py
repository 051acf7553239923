"""The proxy as a real process: JSON logs, secret redaction, reload, workers, admin port."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.openai import FakeOpenAI
from tests.metrics_scrape import scrape, value
from tests.servers import ProxyProcess, free_port
from tests.waiting import wait_until

CLIENT_KEY = "client-secret-key-777777"
PROVIDER_KEY = "sk-provider-secret-888888"
GEMINI_KEY = "AIzaFAKEgeminikey999999"
ADMIN_KEY = "admin-secret-key-555555"
AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def processes() -> Iterator[list[ProxyProcess]]:
    started: list[ProxyProcess] = []
    yield started
    for process in started:
        process.stop()


def start(
    processes: list[ProxyProcess], tmp_path: Path, yaml_text: str, *args: str, **env: str
) -> ProxyProcess:
    path = tmp_path / "providers.yaml"
    path.write_text(yaml_text)
    variables = {"CLIENT_KEY": CLIENT_KEY, "PROVIDER_KEY": PROVIDER_KEY, **env}
    process = ProxyProcess(str(path), variables, *args)
    processes.append(process)
    return process.wait_ready()


def one_provider(url: str, extra: str = "") -> str:
    return f"""
providers:
  up: {{type: openai, base_url: "{url}/v1", api_key: "${{PROVIDER_KEY}}"}}
models:
  gpt: [{{provider: up, model: up-model}}]
auth: {{api_keys: ["${{CLIENT_KEY}}"]}}
{extra}
"""


def chat(url: str, **extra: object) -> httpx.Response:
    body = {"model": "gpt", "messages": MESSAGES, **extra}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=AUTH, timeout=10)


def access_lines(process: ProxyProcess) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in process.log_lines()]
    return [line for line in lines if line.get("logger") == "proxy.access"]


def test_one_json_line_per_request_with_fields(
    processes: list[ProxyProcess], tmp_path: Path, serve: Callable[..., str]
) -> None:
    fake = FakeOpenAI()
    proxy = start(processes, tmp_path, one_provider(serve(fake.app())))
    assert chat(proxy.url, stream=False).status_code == 200
    headers = {**AUTH, "x-request-id": "trace-me-1"}
    body = {
        "model": "gpt",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers=headers)
    proxy.stop()
    for line in proxy.log_lines():
        json.loads(line)  # every line is one JSON object
    first, second = access_lines(proxy)
    assert (
        first["model"] == "gpt"
        and first["provider"] == "up"
        and first["upstream_model"] == "up-model"
    )
    assert first["status"] == 200 and first["outcome"] == "ok" and first["stream"] is False
    assert first["attempts"] == [{"provider": "up", "outcome": "ok"}]
    assert first["tokens"] == {"prompt": 5, "completion": 7, "cached": 0, "reasoning": 0}
    assert isinstance(first["duration_ms"], float) and first["client_disconnected"] is False
    assert second["request_id"] == "trace-me-1" and second["stream"] is True
    assert "ttft_ms" in second and second["tokens"]["completion"] == 5  # type: ignore[index]
    assert all("hi" not in json.dumps(line.get("msg")) for line in access_lines(proxy))


def test_secrets_never_reach_logs_or_responses(
    processes: list[ProxyProcess], tmp_path: Path, serve: Callable[..., str]
) -> None:
    fake = FakeOpenAI(status=401, mode="echo_auth")
    url = serve(fake.app())
    yaml_text = one_provider(url, f'admin: {{api_key: "{ADMIN_KEY}"}}').replace(
        "models:",
        f'  second: {{type: openai, base_url: "{url}/v1", api_key: "{GEMINI_KEY}"}}\nmodels:',
    )
    yaml_text = yaml_text.replace(
        "model: up-model}]", "model: up-model}, {provider: second, model: x}]"
    )
    proxy = start(processes, tmp_path, yaml_text, "--log-level", "debug")
    responses = [
        chat(proxy.url),
        chat(proxy.url, stream=True),
        httpx.post(
            f"{proxy.url}/v1/chat/completions",
            json={"model": "gpt"},
            headers={"x-api-key": "wrong-" + CLIENT_KEY},
        ),
        httpx.get(f"{proxy.url}/metrics", headers={"authorization": f"Bearer {ADMIN_KEY}"}),
    ]
    proxy.stop()
    haystack = proxy.output() + "".join(r.text + str(r.headers) for r in responses)
    for secret in (CLIENT_KEY, PROVIDER_KEY, GEMINI_KEY, ADMIN_KEY):
        assert secret not in haystack
    assert responses[0].status_code == 502  # the provider key was refused and echoed back


def test_url_keys_are_redacted_by_the_formatter() -> None:
    import logging

    from proxy.logs import JsonFormatter, TextFormatter, register_secrets

    register_secrets(["provider-key-abcdef"])
    record = logging.makeLogRecord(
        {
            "msg": "GET https://g.test/v1beta/models/x?key=AIzaSECRET&alt=sse provider-key-abcdef \x1b[31m\r\nforged"
        }
    )
    json_line = JsonFormatter().format(record)
    text_line = TextFormatter().format(record)
    for line in (json_line, text_line):
        assert "AIzaSECRET" not in line and "provider-key-abcdef" not in line
        assert "\n" not in line and "\x1b" not in line and "\r" not in line
    assert json.loads(json_line)["msg"].startswith(
        "GET https://g.test/v1beta/models/x?key=***&alt=sse"
    )


def test_reload_changes_route_under_load_with_no_failed_request(
    processes: list[ProxyProcess], tmp_path: Path, serve: Callable[..., str]
) -> None:
    old, new = FakeOpenAI(content="old"), FakeOpenAI(content="new")
    old_url, new_url = serve(old.app()), serve(new.app())
    admin = f'admin: {{api_key: "{ADMIN_KEY}"}}'
    proxy = start(processes, tmp_path, one_provider(old_url, admin))
    failures: list[str] = []
    answers: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10) as client:
            for _ in range(2000):
                if stop.is_set():
                    return
                body = {"model": "gpt", "messages": MESSAGES}
                response = client.post(f"{proxy.url}/v1/chat/completions", json=body, headers=AUTH)
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    answers.append(response.json()["choices"][0]["message"]["content"])

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        assert wait_until(lambda: len(answers) > 40, 20)
        (tmp_path / "providers.yaml").write_text(one_provider(new_url, admin))
        reloaded = httpx.post(
            f"{proxy.url}/admin/reload", headers={"authorization": f"Bearer {ADMIN_KEY}"}
        )
        assert reloaded.status_code == 200, reloaded.text
        count = len(answers)
        assert wait_until(lambda: len(answers) > count + 40, 20)
        # An invalid file is refused and the running config is kept.
        (tmp_path / "providers.yaml").write_text("providers: {")
        refused = httpx.post(
            f"{proxy.url}/admin/reload", headers={"authorization": f"Bearer {ADMIN_KEY}"}
        )
        assert refused.status_code == 422 and "invalid YAML" in refused.json()["message"]
        count = len(answers)
        assert wait_until(lambda: len(answers) > count + 20, 20)
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
    assert failures == []
    assert answers[0] == "old" and answers[-1] == "new"
    assert httpx.post(f"{proxy.url}/admin/reload").status_code == 401  # needs the admin key


def test_workers_aggregate_metrics(
    processes: list[ProxyProcess], tmp_path: Path, serve: Callable[..., str]
) -> None:
    fake = FakeOpenAI()
    proxy = start(processes, tmp_path, one_provider(serve(fake.app())), "--workers", "2")
    with httpx.Client() as client:  # new connections spread over both workers
        for _ in range(30):
            body = {"model": "gpt", "messages": MESSAGES}
            assert (
                client.post(
                    f"{proxy.url}/v1/chat/completions",
                    json=body,
                    headers={**AUTH, "connection": "close"},
                ).status_code
                == 200
            )
    samples = scrape(proxy.url)
    proxy.stop()  # log lines are written in batches: read them once the process is done
    assert value(samples, "proxy_requests_total", model="gpt", provider="up", status="200") == 30
    assert value(samples, "proxy_tokens_total", model="gpt", provider="up", kind="prompt") == 150
    pids = {
        line.get("msg")
        for line in (json.loads(x) for x in proxy.log_lines())
        if "Started server process" in str(line.get("msg"))
    }
    assert len(pids) == 2  # really two worker processes


def test_admin_port_and_metrics_key(
    processes: list[ProxyProcess], tmp_path: Path, serve: Callable[..., str]
) -> None:
    fake = FakeOpenAI()
    admin_port = free_port()
    extra = f'admin: {{port: {admin_port}, api_key: "{ADMIN_KEY}"}}'
    proxy = start(processes, tmp_path, one_provider(serve(fake.app()), extra))
    admin = f"http://127.0.0.1:{admin_port}"
    assert chat(proxy.url).status_code == 200
    assert httpx.get(f"{proxy.url}/metrics").status_code == 404  # not on the API port
    assert httpx.get(f"{admin}/metrics").status_code == 401
    ok = httpx.get(f"{admin}/metrics", headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert ok.status_code == 200 and "proxy_requests_total" in ok.text
    assert (
        httpx.get(f"{admin}/metrics/", headers={"authorization": f"Bearer {ADMIN_KEY}"}).status_code
        == 404
    )
    assert httpx.post(f"{admin}/v1/chat/completions", json={}, headers=AUTH).status_code == 404
    for base in (proxy.url, admin):  # probes never need a key
        assert httpx.get(f"{base}/health/live").status_code == 200
        assert httpx.get(f"{base}/health/ready").status_code == 200
