"""The on-disk kernel cache.

Takes a key (a digest of everything that changes the generated artifact) and a function that builds
the entry's files into a directory; gives the entry's directory and metadata. Entries are built in a
private temporary directory and renamed into place, so concurrent processes never see a half-written
entry; every file's digest is recorded and checked on load, so a corrupt entry is rebuilt, not loaded.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Callable

from . import __version__

META = "meta.json"


def cache_dir() -> Path:
    """$STENCILC_CACHE_DIR, else $XDG_CACHE_HOME/stencilc, else ~/.cache/stencilc."""
    if os.environ.get("STENCILC_CACHE_DIR"):
        return Path(os.environ["STENCILC_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "stencilc"
    return Path.home() / ".cache" / "stencilc"


@functools.lru_cache(maxsize=None)
def code_fingerprint() -> str:
    """The stencilc version plus a digest of its code and templates: a new compiler, a new key."""
    from .templates_env import templates_dir
    h = hashlib.sha256(__version__.encode())
    here = Path(__file__).resolve().parent
    files = sorted(here.rglob("*.py")) + sorted(templates_dir().rglob("*.j2"))
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:20]


def make_key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in (code_fingerprint(),) + parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _valid(entry: Path) -> dict | None:
    """The entry's metadata if every recorded file is present and intact."""
    try:
        meta = json.loads((entry / META).read_text())
        for name, digest in meta["files"].items():
            if _digest(entry / name) != digest:
                return None
        return meta
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _discard(entry: Path) -> None:
    trash = entry.parent / f".trash-{uuid.uuid4().hex}"
    try:
        os.rename(entry, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def lookup(key: str) -> tuple[Path, dict] | None:
    """A valid entry for `key`, or None (a corrupt entry is removed)."""
    entry = cache_dir() / key
    if not entry.exists():
        return None
    meta = _valid(entry)
    if meta is None:
        _discard(entry)
        return None
    return entry, meta


def store(key: str, populate: Callable[[Path], dict]) -> tuple[Path, dict]:
    """Build an entry with `populate(directory) -> metadata` and move it into place atomically."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key[:8]}-", dir=root))
    try:
        meta = populate(tmp)
        meta["files"] = {p.name: _digest(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / META).write_text(json.dumps(meta, indent=1))
        final = root / key
        try:
            os.rename(tmp, final)
        except OSError:
            # another process won the race; use its entry if it is sound, else replace it
            found = lookup(key)
            if found is not None:
                return found
            os.rename(tmp, final)
        return final, meta
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def build_uncached(populate: Callable[[Path], dict]) -> tuple[Path, dict]:
    """Build into a private temporary directory that is not kept (cache=False)."""
    tmp = Path(tempfile.mkdtemp(prefix="stencilc-"))
    return tmp, populate(tmp)


def info() -> dict:
    """Directory, number of entries and total size in bytes."""
    root = cache_dir()
    entries = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")] if root.exists() else []
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) if root.exists() else 0
    return {"directory": str(root), "entries": len(entries), "bytes": size}


def clear() -> int:
    """Remove every entry; returns how many were removed."""
    root = cache_dir()
    if not root.exists():
        return 0
    n = 0
    for p in root.iterdir():
        if p.is_dir():
            n += not p.name.startswith(".")
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return n
