"""How OCR text is scored against ground truth: one module for the benchmark and the tests.

- CER: character edit distance over the ground truth's length, whitespace runs folded.
- WER: word edit distance over the ground truth's word count (words split on whitespace).
- Bag of words: order-free F1 and recall of lower-cased alphanumeric words, for ground
  truth whose line order is only approximate (tables, receipts, pages regrouped by rows)
  or that lists only some of the words (scene photos).
- ``uppercase`` compares case-insensitively, for ground truth transcribed in capitals.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


def fold(text: str, *, uppercase: bool = False) -> str:
    """NFC, whitespace runs folded to one space; upper-cased when ``uppercase``."""
    text = _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()
    return text.upper() if uppercase else text


def words(text: str) -> list[str]:
    """Lower-cased words without punctuation, for order-free comparisons."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def char_errors(hypothesis: str, truth: str, *, uppercase: bool = False) -> tuple[int, int]:
    """(edit distance, ground-truth length) after folding, for summing over many images."""
    hyp, ref = fold(hypothesis, uppercase=uppercase), fold(truth, uppercase=uppercase)
    return Levenshtein.distance(hyp, ref), len(ref)


def word_errors(hypothesis: str, truth: str, *, uppercase: bool = False) -> tuple[int, int]:
    """(word edit distance, ground-truth word count); words split on whitespace."""
    hyp = fold(hypothesis, uppercase=uppercase).split()
    ref = fold(truth, uppercase=uppercase).split()
    return Levenshtein.distance(hyp, ref), len(ref)


def cer(hypothesis: str, truth: str, *, uppercase: bool = False) -> float:
    errors, length = char_errors(hypothesis, truth, uppercase=uppercase)
    return errors / max(1, length)


def wer(hypothesis: str, truth: str, *, uppercase: bool = False) -> float:
    errors, length = word_errors(hypothesis, truth, uppercase=uppercase)
    return errors / max(1, length)


@dataclass(frozen=True)
class BagScore:
    matched: int
    hypothesis: int
    truth: int

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.hypothesis if self.hypothesis else float(not self.truth)

    @property
    def f1(self) -> float:
        total = self.hypothesis + self.truth
        return 2 * self.matched / total if total else 1.0


def bag_of_words(hypothesis: str, truth: str) -> BagScore:
    """Order-free overlap of the two texts' word multisets (case-insensitive)."""
    hyp, ref = Counter(words(hypothesis)), Counter(words(truth))
    matched = sum((hyp & ref).values())
    return BagScore(matched, sum(hyp.values()), sum(ref.values()))


def roc_auc(scores_right: list[float], scores_wrong: list[float]) -> float:
    """Probability that a random right word has a higher confidence than a random wrong one."""
    if not scores_right or not scores_wrong:
        return float("nan")
    ranked = sorted([(s, 1) for s in scores_right] + [(s, 0) for s in scores_wrong])
    # Mann-Whitney U with tied scores sharing their average rank.
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average_rank = (i + j + 1) / 2
        rank_sum += average_rank * sum(label for _, label in ranked[i:j])
        i = j
    n_right, n_wrong = len(scores_right), len(scores_wrong)
    return (rank_sum - n_right * (n_right + 1) / 2) / (n_right * n_wrong)
