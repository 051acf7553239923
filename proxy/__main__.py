"""python -m proxy --config providers.yaml --host 127.0.0.1 --port 8080 [--workers N]"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import uvicorn

from proxy.config import Config, ConfigError, load_config

log = logging.getLogger("proxy")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m proxy", description=__doc__)
    parser.add_argument(
        "--config",
        default=os.environ.get("PROXY_CONFIG", "providers.yaml"),
        help="routing table YAML (default: $PROXY_CONFIG or providers.yaml)",
    )
    parser.add_argument("--host", default=os.environ.get("PROXY_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PROXY_PORT", "8080")))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--log-level",
        default=os.environ.get("PROXY_LOG_LEVEL", "info"),
        help="debug, info, warning",
    )
    return parser.parse_args(argv)


def load_or_exit(path: str) -> Config:
    """Load and fully validate the config, adapters included; one line and exit 2 if bad."""
    from proxy.app import build_adapters

    try:
        config = load_config(path)
        build_adapters(config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    for warning in config.warnings:
        log.warning(warning)
    return config


def create_app() -> object:
    """uvicorn factory for worker processes: each one loads the config itself."""
    from proxy.app import build_app

    return build_app(load_or_exit(os.environ["PROXY_CONFIG"]))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is noise
    config = load_or_exit(args.config)
    settings = dict(
        host=args.host,
        port=args.port,
        log_level=args.log_level.lower(),
        access_log=False,
        loop="uvloop",
        http="httptools",
        # A backstop only: the app drains itself before uvicorn starts shutting down.
        timeout_graceful_shutdown=config.server.drain_timeout + 1,
    )
    if args.workers > 1:
        os.environ["PROXY_CONFIG"] = os.path.abspath(args.config)
        uvicorn.run("proxy.__main__:create_app", factory=True, workers=args.workers, **settings)
        return
    from proxy.app import build_app

    uvicorn.run(build_app(config), **settings)


if __name__ == "__main__":
    main()
