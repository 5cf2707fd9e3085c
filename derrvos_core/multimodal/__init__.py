"""The multimodal branch: BEiT-3 over (frame, expression) pairs, its tokenizer, and checkpoint loading."""
from derrvos_core.multimodal.beit3 import BEiT3Encoder
from derrvos_core.multimodal.config import BEiT3Config
from derrvos_core.multimodal.encoder import MultimodalEncoder
from derrvos_core.multimodal.convert import load_official_beit3
from derrvos_core.multimodal.tokenizer import ExpressionTokenizer, train_sentencepiece
from derrvos_core.multimodal.types import MultimodalTokens

__all__ = [
    "BEiT3Config",
    "BEiT3Encoder",
    "ExpressionTokenizer",
    "load_official_beit3",
    "MultimodalEncoder",
    "MultimodalTokens",
    "train_sentencepiece",
]
