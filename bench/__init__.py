"""Throughput, latency and CPU benchmark for the proxy: `python -m bench` (see bench/README.md)."""
