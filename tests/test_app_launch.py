"""launch.py refuses what it must before anything starts, and says why."""
from __future__ import annotations

import pytest

import launch


def test_share_without_authentication_is_refused(capsys):
    assert launch.main(["--share"]) == 2
    err = capsys.readouterr().err
    assert "anyone" in err and "--auth" in err and "--share-public" in err


def test_share_with_auth_or_share_public_passes_the_check():
    args = launch.build_parser().parse_args(["--share", "--share-public"])
    launch.check_share(args, ())
    args = launch.build_parser().parse_args(["--share"])
    launch.check_share(args, (("ann", "pw"),))


def test_auth_from_flags_and_file(tmp_path):
    file = tmp_path / "users.txt"
    file.write_text("# annotators\nbob:secret:with:colons\n\n", encoding="utf-8")
    assert launch.parse_auth(["ann:pw"], file) == (("ann", "pw"), ("bob", "secret:with:colons"))
    with pytest.raises(launch.LaunchError, match="USER:PASS"):
        launch.parse_auth(["nopassword"], None)
    with pytest.raises(launch.LaunchError, match="cannot read"):
        launch.parse_auth([], tmp_path / "missing.txt")


def test_a_missing_shipped_model_is_named(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(launch, "DEFAULT_MODEL_DIR", tmp_path / "derrvos-tiny-synthref")
    assert launch.main([]) == 2
    err = capsys.readouterr().err
    assert "derrvos-tiny-synthref" in err and "model.safetensors" in err and "--checkpoint" in err


def test_a_missing_checkpoint_directory_is_named(tmp_path, capsys):
    assert launch.main(["--checkpoint", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
