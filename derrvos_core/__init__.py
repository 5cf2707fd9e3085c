"""DeRVOS: referring video object segmentation by decoupled trajectory generation and multimodal understanding."""

__version__ = "0.1.0"


def load_model(path_or_name: str = "default", device: str = "cpu"):
    """A shipped model by name — "default" or "real" (the real-video model), "synthref" (the tiny DeRVOS
    trained on SynthRef) — or a model folder (`derrvos_core.model.catalog.load_model`).

    Imported lazily so `import derrvos_core` stays light (no torch model code at import).
    """
    from derrvos_core.model.catalog import load_model as _load_model

    return _load_model(path_or_name, device=device)
