"""DeRVOS: referring video object segmentation by decoupled trajectory generation and multimodal understanding."""

__version__ = "0.1.0"
