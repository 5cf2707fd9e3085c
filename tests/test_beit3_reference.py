"""Our BEiT3Encoder equals the official torchscale BEiT3 for the same weights.

Needs torchscale 0.3.0 installed without its dependencies (`pip install --no-deps torchscale==0.3.0`);
the comparison code lives in scripts/beit3_reference_check.py, which provides stand-ins for the
timm and fairscale names torchscale imports.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from derrvos_core.multimodal import BEiT3Config

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "beit3_reference_check.py"


def load_check():
    spec = importlib.util.spec_from_file_location("beit3_reference_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.import_reference()
    except ImportError as exc:
        pytest.skip(f"torchscale 0.3.0 not importable ({exc}); install with pip install --no-deps torchscale==0.3.0")
    return module


SMALL = BEiT3Config(vocab_size=300, embed_dim=64, num_layers=2, num_heads=4, ffn_dim=128,
                    image_size=48, patch_size=16, max_text_positions=30)


@pytest.mark.parametrize("config", [SMALL, BEiT3Config.tiny()], ids=["small", "tiny"])
def test_equal_to_torchscale(config):
    errors = load_check().compare(config)
    assert set(errors) == {"vision+text", "vision only", "text only"}
    for case, err in errors.items():
        assert err < 1e-5, f"{case}: relative error {err:.2e}"


@pytest.mark.slow
def test_equal_to_torchscale_at_base_size():
    errors = load_check().compare(BEiT3Config.base(), batch=1, text_len=16)
    for case, err in errors.items():
        assert err < 1e-4, f"{case}: relative error {err:.2e}"


def test_shims_do_not_outlive_the_import():
    import sys

    load_check()
    for name in ("timm", "timm.models.layers", "fairscale", "fairscale.nn"):
        module = sys.modules.get(name)
        assert module is None or module.__spec__ is not None, f"stand-in {name} left in sys.modules"
