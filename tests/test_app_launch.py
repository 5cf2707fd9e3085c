"""launch.py refuses what it must before anything starts, and says why; it opens on the real-video model
with the SynthRef one in the picker."""
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


def test_a_missing_synthref_model_is_named(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(launch, "SYNTHREF_MODEL_DIR", tmp_path / "derrvos-tiny-synthref")
    assert launch.main(["--checkpoint", "synthref"]) == 2
    err = capsys.readouterr().err
    assert "derrvos-tiny-synthref" in err and "model.safetensors" in err and "--checkpoint" in err


def test_a_missing_real_model_is_named(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(launch, "REAL_MODEL_DIR", tmp_path / "derrvos-real")
    assert launch.main([]) == 2  # the default is the real-video model
    err = capsys.readouterr().err
    assert "derrvos-real" in err and "config.json" in err and "--checkpoint synthref" in err


def test_a_missing_checkpoint_directory_is_named(tmp_path, capsys):
    assert launch.main(["--checkpoint", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


@pytest.fixture
def started(monkeypatch, tmp_path):
    """launch.main up to serving: the service it would serve, without a server."""
    import app.server
    served = []
    monkeypatch.setattr(app.server, "serve", lambda demo, service, options: served.append(service))

    def start(*flags):
        assert launch.main([*flags, "--db", f"sqlite:///{tmp_path / 'studio.db'}",
                            "--data-dir", str(tmp_path / "data")]) == 0
        return served[-1]
    return start


def test_the_studio_opens_on_the_real_model_with_synthref_in_the_picker(started, capsys):
    service = started()
    assert service.model.version.startswith("derrvos-real") and service.models.first_key == "real"
    assert [(c.key, c.label) for c in service.models.choices] == [
        ("real", "Real videos (default)"), ("synthref", "SynthRef shapes")]
    assert not service.models.loaded("synthref")  # loaded when first picked
    assert "Real videos (default)" in capsys.readouterr().out
    picked = service.choose_model("tab", "synthref")
    assert picked.version.startswith("derrvos-tiny-") and picked.defaults == service.models.defaults("synthref")
    assert picked.defaults != service.defaults


def test_checkpoint_synthref_opens_on_it_and_the_real_model_ignores_a_torch_device(started):
    service = started("--checkpoint", "synthref")
    assert service.model.version.startswith("derrvos-tiny-") and service.models.first_key == "synthref"
    assert [c.key for c in service.models.choices] == ["real", "synthref"]
    # ONNX Runtime on the CPU: --device names the torch device of DeRVOS checkpoints only
    assert launch.load_for_picker("real", "cuda:3").version.startswith("derrvos-real")
