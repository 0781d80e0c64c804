"""Fixtures of the remote tests: the servers live in remote_servers.py (a module the tests import by name)."""

from __future__ import annotations

from remote_servers import http_root, http_server, s3, s3_endpoint  # noqa: F401  (pytest fixtures)
