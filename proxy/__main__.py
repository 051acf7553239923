"""python -m proxy --config providers.yaml --host 127.0.0.1 --port 8080 [--workers N]
python -m proxy status [--url URL]   (the running proxy's /admin/status as a table)"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import socket
import sys
import tempfile
from typing import Any

from proxy.config import Config, ConfigError, load_config
from proxy.logs import flush_logs, log_fields, setup_logging

log = logging.getLogger("proxy")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m proxy", description=__doc__)
    parser.add_argument(
        "--config",
        default=env("PROXY_CONFIG", "providers.yaml"),
        help="routing table YAML (default: $PROXY_CONFIG or providers.yaml)",
    )
    parser.add_argument("--host", default=env("PROXY_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("PROXY_PORT", "8080")))
    parser.add_argument("--workers", type=int, default=int(env("PROXY_WORKERS", "1")))
    parser.add_argument(
        "--log-level",
        default=env("PROXY_LOG_LEVEL", "info"),
        choices=["debug", "info", "warning", "error"],
    )
    parser.add_argument(
        "--log-format",
        default=env("PROXY_LOG_FORMAT", "json"),
        choices=["json", "text"],
        help="json (one object per line, the default) or text (for a terminal)",
    )
    return parser.parse_args(argv)


def load_validated(path: str) -> Config:
    """Load and fully validate the config: everything the app builds from it that can
    refuse it (adapters, key digests) is built once here and thrown away."""
    from proxy.state import prepare

    config = load_config(path)
    prepare(config)
    return config


def load_or_exit(path: str, announce: bool = True) -> Config:
    try:
        config = load_validated(path)
    except ConfigError as exc:
        if announce:  # a worker (re)started by the supervisor, e.g. on SIGHUP: a log line
            log.error("config error, this worker does not start: %s", exc)
            flush_logs()
        else:
            print(f"config error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if announce:
        for warning in config.warnings:
            log.warning(warning)
    return config


def create_app() -> Any:
    """The app of one process (uvicorn calls this factory in every worker)."""
    from proxy.app import build_app

    path = os.environ["PROXY_CONFIG"]
    setup_logging(os.environ["PROXY_LOG_LEVEL"], os.environ["PROXY_LOG_FORMAT"])  # type: ignore[arg-type]
    config = load_or_exit(path)
    # The gateway validates a reloaded config fully itself (state.prepare), off the loop.
    return build_app(config, load=functools.partial(load_config, path), manage_heap=True)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["status"]:
        from proxy.status_cli import main as status_main

        raise SystemExit(status_main(argv[1:]))
    args = parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    config = load_or_exit(args.config, announce=False)  # fail fast, before any socket or worker
    if config.admin.port == args.port:
        # The edge would serve only /metrics and /admin/* there: every API path a 404.
        print(f"config error: admin.port: {args.port} is the API port (--port)", file=sys.stderr)
        raise SystemExit(2)
    # Workers re-create the app from the environment (uvicorn spawns fresh processes).
    os.environ["PROXY_CONFIG"] = os.path.abspath(args.config)
    os.environ["PROXY_LOG_LEVEL"] = args.log_level
    os.environ["PROXY_LOG_FORMAT"] = args.log_format
    os.environ["PROXY_WORKERS"] = str(args.workers)  # for /admin/status
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Must be set before any worker imports prometheus_client.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="llm-proxy-metrics-")

    import uvicorn

    from proxy.http_protocol import CoalescingHttpToolsProtocol

    sockets = [bind(args.host, args.port)]
    if config.admin.port is not None:
        sockets.append(bind(config.admin.host, config.admin.port))
    settings = uvicorn.Config(
        "proxy.__main__:create_app",
        factory=True,
        workers=args.workers,
        log_config=None,  # ours, set up by setup_logging
        access_log=False,
        # Client addresses are not used, and X-Forwarded-* from callers is not trusted: skip
        # uvicorn's proxy-headers layer on every request.
        proxy_headers=False,
        server_header=False,
        loop="uvloop",
        http=CoalescingHttpToolsProtocol,
        # A backstop only: the app drains itself before uvicorn starts shutting down.
        timeout_graceful_shutdown=int(config.server.drain_timeout) + 1,
    )
    log_fields(
        log,
        logging.INFO,
        "starting",
        host=args.host,
        port=args.port,
        admin_port=config.admin.port,
        admin_host=config.admin.host,
        workers=args.workers,
        models=sorted(config.models),
    )
    if args.workers > 1:
        from proxy.supervisor import Supervisor

        Supervisor(settings, sockets=sockets).run()
    else:
        uvicorn.Server(settings).run(sockets=sockets)


if __name__ == "__main__":
    main()
