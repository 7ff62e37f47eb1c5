"""The local platform's admin token: made once per data directory, private, and the CLI's
fallback only when ALLIANCE_ADMIN_TOKEN is unset."""

import stat

from pydantic import SecretStr

from shared.admin_token import admin_token, local_admin_token, token_path
from shared.settings import Settings


def test_the_token_is_made_once_private_and_kept_across_restarts(tmp_path):
    data_dir = tmp_path / "data"
    first = local_admin_token(data_dir)
    assert stat.S_IMODE(token_path(data_dir).stat().st_mode) == 0o600
    assert len(first.get_secret_value()) >= 32
    assert local_admin_token(data_dir) == first
    assert local_admin_token(tmp_path / "other") != first


def test_a_token_file_made_readable_by_others_is_made_private_again(tmp_path):
    local_admin_token(tmp_path)
    token_path(tmp_path).chmod(0o644)
    local_admin_token(tmp_path)
    assert stat.S_IMODE(token_path(tmp_path).stat().st_mode) == 0o600


def test_the_cli_uses_a_set_token_first_then_the_data_directorys(tmp_path):
    assert admin_token(Settings(data_dir=tmp_path, admin_token=None)) is None
    made = local_admin_token(tmp_path)
    assert admin_token(Settings(data_dir=tmp_path, admin_token=None)) == made
    assert admin_token(Settings(data_dir=tmp_path, admin_token=SecretStr("set"))) == SecretStr("set")
