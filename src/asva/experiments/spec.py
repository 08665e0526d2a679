"""The four SynthAV experiments of the papers' claims, as data: tasks (what to train, generate and score)
and the claim each experiment checks.

Every experiment starts from the run folder of `make train-default` (`--base`, `runs/default`): its
clean and noisy SynthAV sets, the curation manifest, the frozen tiny backbone and the curated
pretraining of the shipped model. On top of that an experiment adds its own tasks:

- `data`: a clean set with 40 training videos per class (K = all; dataset seed 11) and the held-out
  test set of docs/results.md (dataset seed 777, 2 videos per class x 3 clips);
- `audio`: tiny ImageBind and BEATs encoders trained on SynthAV audio (features and window);
- `pretrain:<name>`: audio adapters pretrained on the noisy set, with the recipe of the shipped model;
- cells: adapters finetuned (or, for "finetune only", trained from scratch) on K clean clips per
  class, then the test set animated and scored (oracle sync error, matched fraction, RelSync, SFD).

`scale` multiplies every training length and the test videos per class (a GPU run: `--scale 4`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

EXPERIMENTS = ("kshot", "curation", "window", "features")
SEEDS = (0, 1, 2)
SHOTS: tuple[int | None, ...] = (1, 5, 10, None)  # None: all (40 per class)
WINDOWS = (0.5, 1.0, 1.5, 2.5, 4.0)  # r in frames: r / FPS seconds
TEST_SEED = 777  # the dataset seed of docs/results.md's test set; no training set uses it
TEST_VIDEOS_PER_CLASS = 2
CLEAN_SEED = 11
CLEAN_VIDEOS_PER_CLASS = 40
SYNTH_SIZE = 128
METRICS = ("oracle", "relsync", "sfd")
# The features experiment's three conditions (Fig. 4a): tiny encoders have 4 blocks, so the
# analogue of taps 3/7/11 of 12 (the ends of the thirds) is 1/3 here (the ends of the halves; the
# tiny preset's taps) and "last layer" is block 3.
FEATURES: dict[str, dict[str, list]] = {
    "imagebind-last": {"audio_encoders": ["imagebind"], "audio_layers": [3]},
    "imagebind-multi": {"audio_encoders": ["imagebind"], "audio_layers": [1, 3]},
    "both-multi": {"audio_encoders": ["imagebind", "beats"], "audio_layers": [1, 3]},
}


@cache
def recipe(stage: str) -> dict[str, Any]:
    """The shipped model's settings for a stage (`asva/assets/recipes/tiny/<stage>.yaml`)."""
    import yaml

    text = resources.files("asva").joinpath("assets", "recipes", "tiny", f"{stage}.yaml").read_text()
    return dict(yaml.safe_load(text) or {})


@dataclass(frozen=True)
class Pretrain:
    """Adapters pretrained on the noisy set: curated (the manifest's kept clips) or raw (every clip)."""

    name: str
    curated: bool = True
    overrides: dict[str, Any] = field(default_factory=dict)  # TrainConfig audio fields
    trained_audio: bool = False  # start from the `audio` task's trained encoders

    @property
    def task(self) -> str:
        return f"pretrain:{self.name}"


@dataclass(frozen=True)
class Cell:
    """One table cell for one seed: train the adapters, animate the test set, score it."""

    name: str
    group: str  # the table row ("K = 1", "r = 0.5", ...)
    column: str  # the table column ("finetune only", "curated pretraining + finetune", ...)
    seed: int
    shots: int | None  # K clean clips per class (None: all)
    pretrain: Pretrain | None  # None: adapters trained from scratch on the K clean clips
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return f"cell:{self.name}"


@dataclass(frozen=True)
class Claim:
    """What a paper says, as a comparison of two table entries on the oracle sync error.

    `better` should have the lower error than `worse` in every listed pair; the verdict rule is in
    `asva.experiments.report.verdict`."""

    text: str
    pairs: tuple[tuple[tuple[str, str], tuple[str, str]], ...]  # ((group, column) better, ... worse)


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    design: str
    cells: tuple[Cell, ...]
    claims: tuple[Claim, ...]
    x_label: str  # the plot's x axis (the groups, in order)

    @property
    def pretrains(self) -> tuple[Pretrain, ...]:
        seen: dict[str, Pretrain] = {}
        for c in self.cells:
            if c.pretrain is not None:
                seen.setdefault(c.pretrain.name, c.pretrain)
        return tuple(seen.values())

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(c.group for c in self.cells))

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(c.column for c in self.cells))


CURATED = Pretrain("curated")
SCRATCH, PRETRAINED = "finetune only", "curated pretraining + finetune"


def _k(shots: int | None) -> str:
    return "all" if shots is None else str(shots)


def kshot() -> Experiment:
    cells = []
    for shots in SHOTS:
        for seed in SEEDS if shots is not None else SEEDS[:1]:
            for column, pretrain, tag in ((SCRATCH, None, "scratch"), (PRETRAINED, CURATED, "pretrained")):
                cells.append(Cell(f"{tag}_K{_k(shots)}_s{seed}", f"K = {_k(shots)}", column, seed, shots,
                                  pretrain))
    return Experiment(
        "kshot", "K-shot finetuning with and without curated pretraining (Table 3 design)",
        "For K in {1, 5, 10, all = 40} clean clips per class: adapters trained on the K clips alone "
        "(finetune only) against adapters pretrained on the curated noisy set, then finetuned on the same "
        "K clips; 3 seeds (the K-shot subset, the data order and the noise) for K < all.",
        tuple(cells),
        (Claim("curated pretraining + finetune beats finetune only at every K",
               tuple(((f"K = {_k(s)}", PRETRAINED), (f"K = {_k(s)}", SCRATCH)) for s in SHOTS)),),
        "K (clean clips per class)",
    )


def curation() -> Experiment:
    raw = Pretrain("raw", curated=False)
    cells = [Cell(f"{tag}_s{seed}", label, "K = 10", seed, 10, pretrain)
             for tag, label, pretrain in (("raw", "raw noisy set", raw), ("curated", "curated", CURATED))
             for seed in SEEDS]
    return Experiment(
        "curation", "Pretraining on the raw noisy set against the same set after `asva curate` "
        "(Table 2 design)",
        "Adapters pretrained on every clip of the noisy SynthAV set, or only on the clips `asva curate` "
        "keeps (the same number of steps), both finetuned on K = 10 clean clips per class; "
        "3 finetuning seeds.",
        tuple(cells),
        (Claim("pretraining on the curated set beats pretraining on the raw set",
               ((("curated", "K = 10"), ("raw noisy set", "K = 10")),)),),
        "pretraining data",
    )


def _trained(label: str, window: float | None = None) -> tuple[Pretrain, dict[str, Any]]:
    """Adapters fed by the trained encoders with the audio settings `FEATURES[label]` and, when given,
    the window radius `window`: the pretraining (one per combination) and the cells' overrides."""
    over = dict(FEATURES[label])
    if window is None:
        return Pretrain(f"features-{label}", overrides=over, trained_audio=True), over
    over["adapter_window"] = window
    return Pretrain(f"window{window:g}-trained-audio", overrides=over, trained_audio=True), over


def window() -> Experiment:
    # The trained encoders, as in `features`: with the random ones the adapters see nearly the same
    # tokens for every clip, and no radius could matter. r = 1.5 is the features run's both-multi.
    cells = []
    for r in WINDOWS:
        pretrain, over = _trained("both-multi", None if r == 1.5 else r)
        cells += [Cell(f"r{r:g}_s{seed}", f"r = {r:g}", "K = 10", seed, 10, pretrain, over) for seed in SEEDS]
    others = [f"r = {r:g}" for r in WINDOWS if r != 1.5]
    return Experiment(
        "window", "Audio window radius r / FPS (Fig. 4b design)",
        "Adapters whose frames attend to audio tokens within r / FPS seconds, r in {0.5, 1, 1.5, 2.5, 4}, "
        "fed by the tiny encoders trained on SynthAV audio (as in `features`; r = 1.5 is its both-encoder "
        "row), each pretrained on the curated set and finetuned on K = 10; 3 finetuning seeds.",
        tuple(cells),
        (Claim("r = 1.5 is better than every other radius",
               tuple((("r = 1.5", "K = 10"), (o, "K = 10")) for o in others)),),
        "window radius r (frames)",
    )


def features() -> Experiment:
    cells = []
    for label in FEATURES:
        pretrain, over = _trained(label)
        cells += [Cell(f"{label}_s{seed}", label, "K = 10", seed, 10, pretrain, over) for seed in SEEDS]
    return Experiment(
        "features", "Audio features: one layer of one encoder, several layers, two encoders (Fig. 4a design)",
        "Tiny ImageBind-audio and BEATs encoders trained on SynthAV audio (class + onset targets) and "
        "frozen; adapters fed by ImageBind's last block, by ImageBind blocks 1 and 3, or by both encoders' "
        "blocks 1 and 3; each pretrained on the curated set and finetuned on K = 10; 3 finetuning seeds.",
        tuple(cells),
        (Claim("several layers beat the last layer alone",
               ((("imagebind-multi", "K = 10"), ("imagebind-last", "K = 10")),)),
         Claim("two encoders beat one",
               ((("both-multi", "K = 10"), ("imagebind-multi", "K = 10")),))),
        "audio features",
    )


def get_experiment(name: str) -> Experiment:
    """One of `EXPERIMENTS` by name."""
    builders = {"kshot": kshot, "curation": curation, "window": window, "features": features}
    if name not in builders:
        raise KeyError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    return builders[name]()


__all__ = ["EXPERIMENTS", "Cell", "Claim", "Experiment", "Pretrain", "get_experiment", "recipe"]
