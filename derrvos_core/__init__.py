"""DeRVOS: referring video object segmentation by decoupled trajectory generation and multimodal understanding."""

__version__ = "0.1.0"


def load_model(path_or_name: str = "default", device: str = "cpu"):
    """Load a DeRVOS checkpoint directory, or the shipped model by name ("default").

    Imported lazily so `import derrvos_core` stays light (no torch model code at import).
    """
    from derrvos_core.model import load_model as _load_model

    return _load_model(path_or_name, device=device)
