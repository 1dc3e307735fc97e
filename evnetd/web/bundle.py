"""The diagnostics bundle: what support needs to see, without anything that opens the charger.

Secrets never go in: config values whose names say they are secret are replaced, the
OCPP password is write-only everywhere, and as a last guard every known secret text (the
PIN, the configured keys) is blanked wherever it might still appear (a journal line, say).
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
from collections.abc import Iterable, Mapping
from typing import Any

REMOVED = "(removed)"
_SECRET_NAME = re.compile(r"(?:^|_)pin(?:$|_)|password|passwd|secret|token|authorization_?key|private_?key",
                          re.IGNORECASE)  # fmt: skip


def redact(value: Any, key: str = "") -> Any:
    """``value`` with every entry whose key names a secret replaced (recursively)."""
    if key and _SECRET_NAME.search(key) and value not in ("", None, [], {}):
        return REMOVED
    if isinstance(value, Mapping):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def build(parts: Mapping[str, Any], secrets: Iterable[str], now: float | None = None) -> bytes:
    """A .tar.gz of ``parts`` (file name → text, or a value written as JSON), with every
    text in ``secrets`` blanked."""
    blanks = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
    stamp = time.time() if now is None else now
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, content in parts.items():
            text = content if isinstance(content, str) else json.dumps(content, indent=2, default=str)
            for secret in blanks:
                text = text.replace(secret, REMOVED)
            data = text.encode()
            info = tarfile.TarInfo(f"evnet-diagnostics/{name}")
            info.size, info.mtime, info.mode = len(data), int(stamp), 0o644
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()
