"""Byte-level BPE tokenizer of CLIP / OpenCLIP (the `SimpleTokenizer` semantics DynamiCrafter uses).

Text is cleaned (ftfy, HTML unescape twice, whitespace collapsed, lowercased), split with CLIP's
regex, mapped byte by byte to printable unicode, and merged with the ranked BPE merges of a
vocabulary file. Ids: 256 byte symbols, the same 256 with `</w>` (end of word), one id per merge,
then `<start_of_text>` and `<end_of_text>`.

The vocabulary file is never downloaded: pass its path. The real one, `bpe_simple_vocab_16e6.txt.gz`
(49,408 ids), ships inside the `open_clip_torch` package as `open_clip/bpe_simple_vocab_16e6.txt.gz`
(and with OpenAI's `clip` package as `clip/bpe_simple_vocab_16e6.txt.gz`). The tiny model uses
`asva/assets/tiny_bpe_vocab.txt.gz`, made by `build_bpe_vocab(TINY_VOCAB_TEXT.split(), 510, path)`.

File format: gzip text; line 0 is a header, each following line is one merge `left right`, best
first. As in OpenCLIP, only the first 49152 - 256 - 2 merges are used.
"""

from __future__ import annotations

import gzip
import html
import itertools
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib.resources.abc import Traversable
from pathlib import Path

import ftfy
import regex
import torch

from asva.log import get_logger

logger = get_logger(__name__)

SOT_TEXT = "<start_of_text>"
EOT_TEXT = "<end_of_text>"
END_OF_WORD = "</w>"
MAX_MERGES = 49152 - 256 - 2  # OpenCLIP reads merge lines [1, 48895) of the file: 48,894 merges
# CLIP's pre-tokenisation: the special tokens, English contractions, letter runs, single digits,
# runs of other non-space symbols.
_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


@lru_cache
def bytes_to_unicode() -> dict[int, str]:
    """Map each of the 256 byte values to a printable unicode character (CLIP's reversible table)."""
    # Printable Latin-1 bytes map to themselves; the rest (controls, space, ...) to chr(256 + n),
    # so no BPE symbol is whitespace or a control character.
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    # Insertion order (printable first, then the rest) fixes the ids of the 256 byte symbols.
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + n) for n, b in enumerate(others)}}


def clean_text(text: str) -> str:
    """ftfy fix, HTML unescape (twice), collapse whitespace, lowercase (OpenCLIP's cleaning)."""
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return regex.sub(r"\s+", " ", text).strip().lower()


def _pre_tokenize(pattern: regex.Pattern, text: str) -> list[str]:
    # Cleaned text -> regex pieces, each as a string of byte-symbols.
    byte_encoder = bytes_to_unicode()
    pieces = pattern.findall(clean_text(text))
    return ["".join(byte_encoder[b] for b in piece.encode("utf-8")) for piece in pieces]


def _symbols(piece: str) -> tuple[str, ...]:
    # A piece as its characters, the last one marked as the end of a word.
    return (*piece[:-1], piece[-1] + END_OF_WORD)


def _merge_pair(word: tuple[str, ...], first: str, second: str) -> tuple[str, ...]:
    # Replace every non-overlapping occurrence of (first, second), left to right.
    out: list[str] = []
    i = 0
    while i < len(word):
        if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
            out.append(first + second)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def _read_merges(path: Path | Traversable) -> list[tuple[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(
            f"BPE vocabulary file not found: {path}. The OpenCLIP vocabulary "
            "`bpe_simple_vocab_16e6.txt.gz` ships inside the open_clip_torch package (open_clip/).")
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    body = lines[1:MAX_MERGES + 1]
    if body and body[-1] == "":  # the newline that ends a short file is not a merge
        body = body[:-1]
    merges = []
    for number, line in enumerate(body, start=2):
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}: line {number} is not a merge `left right`: {line!r}")
        merges.append((parts[0], parts[1]))
    return merges


class BPETokenizer:
    """CLIP byte-level BPE: `tokenizer(texts) -> (B, context_length)` ids, [SOT] text [EOT] then zeros."""

    def __init__(self, vocab_path: str | os.PathLike | Traversable, context_length: int = 77) -> None:
        if context_length < 2:
            raise ValueError(f"context_length must be at least 2 (SOT and EOT), got {context_length}")
        path = Path(vocab_path) if isinstance(vocab_path, str | os.PathLike) else vocab_path
        merges = _read_merges(path)
        symbols = list(bytes_to_unicode().values())
        words = [s + END_OF_WORD for s in symbols]
        vocab = [*symbols, *words, *("".join(m) for m in merges), SOT_TEXT, EOT_TEXT]
        # dict() keeps the last id of a string that two merges spell, as OpenCLIP does.
        self.encoder: dict[str, int] = dict(zip(vocab, range(len(vocab)), strict=True))
        self.decoder = {i: s for s, i in self.encoder.items()}
        self.bpe_ranks = {m: rank for rank, m in enumerate(merges)}
        self.context_length = context_length
        self.vocab_size = len(vocab)
        self.sot_token = self.encoder[SOT_TEXT]
        self.eot_token = self.encoder[EOT_TEXT]
        # Special tokens typed in a prompt are matched whole (case-insensitively, like the rest).
        self._pattern = regex.compile(f"{SOT_TEXT}|{EOT_TEXT}|{_SPLIT}", regex.IGNORECASE)
        self._cache: dict[str, str] = {SOT_TEXT: SOT_TEXT, EOT_TEXT: EOT_TEXT}
        self._warned_truncation = False

    def bpe(self, piece: str) -> str:
        """Apply the merges to one pre-tokenised piece; returns its BPE symbols joined by spaces."""
        if piece in self._cache:
            return self._cache[piece]
        word = _symbols(piece)
        while len(word) > 1:
            pairs = set(itertools.pairwise(word))
            best = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if best not in self.bpe_ranks:
                break
            word = _merge_pair(word, *best)
        result = " ".join(word)
        self._cache[piece] = result
        return result

    def encode(self, text: str) -> list[int]:
        """Token ids of one text, without SOT/EOT and without truncation."""
        pieces = _pre_tokenize(self._pattern, text)
        return [self.encoder[s] for piece in pieces for s in self.bpe(piece).split(" ")]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids back to text (cleaned and lowercased, `</w>` as spaces); unknown bytes become U+FFFD."""
        byte_decoder = {c: b for b, c in bytes_to_unicode().items()}
        text = "".join(self.decoder[int(i)] for i in ids)
        text = bytearray(byte_decoder[c] for c in text).decode("utf-8", errors="replace")
        return text.replace(END_OF_WORD, " ")

    def __call__(self, texts: str | Sequence[str]) -> torch.Tensor:
        """Texts -> (B, context_length) ids: [SOT] + tokens + [EOT], zero-padded, EOT kept on truncation."""
        if isinstance(texts, str):
            texts = [texts]
        out = torch.zeros(len(texts), self.context_length, dtype=torch.long)  # (B, L)
        for row, text in enumerate(texts):
            ids = [self.sot_token, *self.encode(text), self.eot_token]
            if len(ids) > self.context_length:
                if not self._warned_truncation:
                    logger.warning("prompt has %d tokens (with SOT/EOT), more than the context length %d; "
                                   "keeping the first %d and EOT (warned once per tokenizer): %.60r",
                                   len(ids), self.context_length, self.context_length - 1, text)
                    self._warned_truncation = True
                ids = [*ids[: self.context_length - 1], self.eot_token]
            out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out


def build_bpe_vocab(texts: Iterable[str], num_merges: int, path: str | os.PathLike) -> Path:
    """Learn `num_merges` BPE merges from texts (most frequent pair first) and write a vocabulary file."""
    if not 0 < num_merges <= MAX_MERGES:
        raise ValueError(f"num_merges must be in [1, {MAX_MERGES}], got {num_merges}")
    pattern = regex.compile(_SPLIT, regex.IGNORECASE)
    counts = Counter(piece for text in texts for piece in _pre_tokenize(pattern, text))
    words = {_symbols(piece): n for piece, n in counts.items()}
    merges: list[tuple[str, str]] = []
    while len(merges) < num_merges:
        pair_counts: Counter[tuple[str, str]] = Counter()
        for word, n in words.items():
            for pair in itertools.pairwise(word):
                pair_counts[pair] += n
        if not pair_counts:
            raise ValueError(f"the texts only support {len(merges)} merges, {num_merges} requested: "
                             "add more (or longer) words")
        # Most frequent pair; ties broken by the pair itself so the file is reproducible.
        best = min(pair_counts, key=lambda pair: (-pair_counts[pair], pair))
        merges.append(best)
        words = {_merge_pair(word, *best): n for word, n in words.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"#version: 0.2 - asva build_bpe_vocab, {num_merges} merges"
    text = "\n".join([header, *(f"{a} {b}" for a, b in merges)])
    # mtime=0 and no file name in the gzip header: the same merges give the same bytes.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(text.encode("utf-8"))
    return path


# The word list of the bundled tiny vocabulary: the classes and objects of our datasets and SynthAV,
# and common prompt words. Repeated words weigh more in the merge counts.
TINY_VOCAB_TEXT = """
a a a an the the the the of of of on on on in in in at to to with with and and and is is are
by from for its it this that his her their over under into near up down out off front back
a photo of a video of a man woman person people child baby hand hands stick
ball ball ball balls hammer hammer hammering anvil anvil drum drum drums drumming metronome
lamp lamp blinking beep beep beeping frog frog frogs croak croak croaking clap clap clapping
blocks block jump jump jumping bounce bounce bouncing dog dog dogs bark bark barking
lion lions roar roaring cat meow chicken rooster crowing crow cow moo horse duck quack bird
birds singing chirping owl sheep goat pig insect bee buzzing
gun guns cap machine shooting shot fire fireworks explosion explode
play play playing plays player cello violin trumpet trombone guitar piano flute saxophone
bass harp bell bells ringing ring whistle whistling
hit hit hitting hits strike striking struck scratch scratching tap tapping knock knocking
sharpen sharpening knife knives bowling pins toilet flush flushing water splash splashing
waterfall burbling stream river rain raining thunder lightning wind blowing noise crackling
squishing underwater bubbling bubbles wave waves ocean sea beach forest tree trees leaf leaves
grass rock rocks dirt gravel wood wooden metal plastic glass paper cloth cushion sand mud
table floor wall door window car engine train plane motorcycle truck siren horn
red green blue yellow white black orange purple pink brown gray grey bright dark
small big large little tiny round square heavy light fast slow loud quiet soft hard
moving falling rolling swinging spinning sliding shaking flying walking running dancing
talking speaking laughing crying singing sings song music sound sounds audio loop beat rhythm
time times once twice again every second seconds one two three four five six seven eight nine ten
""".strip()
