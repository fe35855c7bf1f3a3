"""Content hashes of files, so that moved or renamed audio is recognised.

The hash covers the file's bytes only (not its name or times): a file moved to
another folder, as Live does with freeze files when a Set is saved, keeps its
hash; a file whose content changes gets a new one.
"""

from __future__ import annotations

import hashlib
import os

CHUNK = 1 << 20
HASH_NAME = "blake2b-128"


def content_hash(path: str | os.PathLike) -> str:
    """Hex BLAKE2b-128 digest of the file's bytes (32 hex characters)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while True:
            block = fh.read(CHUNK)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def bytes_hash(data: bytes) -> str:
    """Same digest as :func:`content_hash`, over bytes in memory."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()
