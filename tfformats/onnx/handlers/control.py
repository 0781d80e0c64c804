"""Control flow: functional If/While and TensorList ops (filled in below)."""

from __future__ import annotations

from .common import Handler

TABLE: dict[str, Handler] = {}
