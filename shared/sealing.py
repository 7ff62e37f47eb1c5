"""Secrets one service hands another over an internal topic travel sealed.

The members service is where members' webhook secrets are managed; notifications signs the
webhooks with them. They reach notifications inside the member's profile event, sealed with
Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`) under keys both services are given
(`ALLIANCE_SEALING_KEYS`), so whoever can read the topic cannot read the secrets. Several keys,
comma-separated, allow a rotation: the first seals, every one opens.
"""

from __future__ import annotations

import binascii

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class Unsealable(Exception):
    """Sealed with none of our keys, or altered: says so, never what it held."""


class SecretBox:
    def __init__(self, keys: str) -> None:
        parts = [key.strip() for key in keys.split(",") if key.strip()]
        if not parts:
            raise ValueError("no sealing key given")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in parts])
        except (ValueError, binascii.Error):
            raise ValueError(
                "a sealing key is 32 bytes in URL-safe base64, as `alliance sealing-key` prints"
            ) from None

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise Unsealable("sealed with none of the configured keys, or altered") from None


def new_sealing_key() -> str:
    return Fernet.generate_key().decode()
