"""A model's identity for the score cache: everything that can change a score, in one string.

Two runs share cached scores only when their fingerprints are equal, so the fingerprint holds
the model name, its revision (hub commit or a content hash of its files), the weights' dtype,
the BOS and chat-template settings, the context window and the scorer version. Settings that
must not change a score (device, batch size, padding side) are left out on purpose; tests
check that they do not.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from typicality.scoring.paths import cache_root

# Bump when a change to the scoring code changes any score: old cached scores are then ignored.
SCORER_VERSION = "1"


@dataclass(frozen=True)
class ModelIdentity:
    name: str  # as the user gave it (e.g. gemma-3-270m, a hub id, a path)
    revision: str  # hub commit hash, or "sha256:..." of the weight files
    backend: str
    dtype: str
    bos: bool  # whether a BOS token is put before the prompt
    chat_template: bool
    window: int  # context window in tokens (prompt + response)
    scorer_version: str = SCORER_VERSION

    def fingerprint(self) -> str:
        """A readable, unique string; stored beside every score."""
        revision = self.revision.split(":", 1)[-1][:16]
        return (
            f"{self.name}@{revision}|{self.backend}|{self.dtype}|bos={'on' if self.bos else 'off'}"
            f"|template={'on' if self.chat_template else 'off'}|window={self.window}|scorer={self.scorer_version}"
        )

    def to_dict(self) -> dict:
        return asdict(self)


def files_digest(paths: list[Path]) -> str:
    """sha256 over the contents of files (e.g. a checkpoint's weights), memoised by path, size and mtime."""
    memo_path = cache_root() / "file-hashes.json"
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    combined = hashlib.sha256()
    changed = False
    for path in sorted(Path(p).resolve() for p in paths):
        stat = path.stat()
        stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
        entry = memo.get(str(path))
        if not entry or entry.get("stamp") != stamp:
            entry = {"stamp": stamp, "sha256": _sha256_file(path)}
            memo[str(path)] = entry
            changed = True
        combined.update(path.name.encode())
        combined.update(entry["sha256"].encode())
    stale = [name for name in memo if not Path(name).exists()]  # e.g. deleted temporary checkpoints
    for name in stale:
        del memo[name]
    if changed or stale:
        # Write-then-rename: a run killed here leaves the old memo intact.
        staging = memo_path.with_name(f".{memo_path.name}.{os.getpid()}")
        staging.write_text(json.dumps(memo, indent=1), encoding="utf-8")
        os.replace(staging, memo_path)
    return f"sha256:{combined.hexdigest()}"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
