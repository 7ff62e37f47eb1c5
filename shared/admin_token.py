"""The admin token of a platform started with `alliance run` and no ALLIANCE_ADMIN_TOKEN.

`alliance run` makes a random one, once per data directory, in `<data dir>/admin-token`
(readable by the user alone) and hands it to the services; the CLI on the same machine reads it
from there, so `alliance cycle close` works after a plain `make run`. A set ALLIANCE_ADMIN_TOKEN
always wins, and `alliance serve` never makes one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from shared.settings import Settings

TOKEN_FILE = "admin-token"


def token_path(data_dir: Path) -> Path:
    return data_dir / TOKEN_FILE


def local_admin_token(data_dir: Path) -> SecretStr:
    """The data directory's token, made (mode 0600) if it has none yet; kept across restarts."""
    path = token_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        return _read(path)
    token = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
    return SecretStr(token)


def admin_token(settings: Settings) -> SecretStr | None:
    """What the CLI authenticates with: ALLIANCE_ADMIN_TOKEN, else the local platform's token."""
    if settings.admin_token is not None:
        return settings.admin_token
    path = token_path(settings.data_dir)
    return _read(path) if path.is_file() else None


def _read(path: Path) -> SecretStr:
    return SecretStr(path.read_text().strip())
