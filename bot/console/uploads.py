"""Uploaded bank files kept between the check and the import: random names, never served back."""
from __future__ import annotations

import logging
import re
import secrets
import time
from pathlib import Path

from questions.importers import TEXT_SUFFIXES

logger = logging.getLogger(__name__)

SUFFIXES = (".xlsx", ".csv", *TEXT_SUFFIXES)
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
KEEP_SECONDS = 24 * 3600


def upload_dir(instance_path: str) -> Path:
    """Return the folder for uploads (created on first use)."""
    folder = Path(instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def suffix_of(filename: str) -> str:
    """Return the file's lower-case extension if it is a bank format we read, else ""."""
    suffix = Path(filename).suffix.lower()
    return suffix if suffix in SUFFIXES else ""


def save_upload(folder: Path, data: bytes, suffix: str) -> str:
    """Store uploaded bytes under a random name; return the token that refers to them."""
    prune(folder)
    token = secrets.token_urlsafe(32)
    (folder / f"{token}{suffix}").write_bytes(data)
    return token


def find_upload(folder: Path, token: str) -> Path | None:
    """Return the stored file for a token, or None for an unknown or malformed token."""
    if not TOKEN.match(token or ""):
        return None
    for suffix in SUFFIXES:
        path = folder / f"{token}{suffix}"
        if path.is_file():
            return path
    return None


def prune(folder: Path) -> None:
    """Delete uploads older than a day (checked but never imported)."""
    cutoff = time.time() - KEEP_SECONDS
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            logger.info("removed stale upload %s", path.name)
