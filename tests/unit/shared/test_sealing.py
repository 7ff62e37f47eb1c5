"""Webhook secrets travel sealed: only the configured keys open them, a rotation keeps the old
key opening, and a failure names no secret."""

import pytest

from shared.sealing import SecretBox, Unsealable, new_sealing_key

OLD, NEW = new_sealing_key(), new_sealing_key()


def test_a_sealed_secret_opens_with_the_key_and_does_not_show():
    box = SecretBox(NEW)
    sealed = box.seal("hook-huber-7a6e11d2")
    assert "hook-huber" not in sealed
    assert box.open(sealed) == "hook-huber-7a6e11d2"


def test_during_a_rotation_the_new_key_seals_and_both_open():
    before = SecretBox(OLD).seal("s-1")
    rotating = SecretBox(f"{NEW}, {OLD}")
    assert rotating.open(before) == "s-1"
    assert SecretBox(NEW).open(rotating.seal("s-2")) == "s-2"


def test_another_key_or_an_altered_token_is_unsealable_without_saying_more():
    sealed = SecretBox(OLD).seal("hook-secret")
    for box, token in ((SecretBox(NEW), sealed), (SecretBox(OLD), sealed[:-4] + "AAAA")):
        with pytest.raises(Unsealable) as failure:
            box.open(token)
        assert "hook-secret" not in str(failure.value)


@pytest.mark.parametrize("keys", ["", " , ", "not-a-key", "c2hvcnQ="])
def test_a_malformed_key_is_refused_with_what_a_key_looks_like(keys):
    with pytest.raises(ValueError, match="sealing"):
        SecretBox(keys)
