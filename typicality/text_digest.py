"""The one text hash of the package: sha256 over length-prefixed UTF-8 parts (torch-free, no dependencies).

Data ids (`typicality.domain.text_id`, the first 16 hex digits) and score-cache keys
(`typicality.scoring.requests.text_key`, all 64) are both this digest; changing it changes every
id and invalidates every user's score cache, so a test pins known values.
"""

from __future__ import annotations

import hashlib


def text_digest(*parts: str) -> str:
    """sha256 (64 hex digits) of the parts, each prefixed by its UTF-8 length so ("ab", "c") != ("a", "bc")."""
    digest = hashlib.sha256()
    for part in parts:
        encoded = part.encode("utf-8", errors="surrogatepass")  # lone surrogates still get a key; the scorer skips them
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()
