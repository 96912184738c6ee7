"""Molecule generation: a SMILES/SELFIES sequence VAE and work in its latent space.

:class:`MoleculeVAE` fits :class:`aekit.models.seq_vae.SequenceVAE` on SMILES strings
(tokenised by :class:`aekit.data.molecules.MoleculeTokenizer`, SELFIES by default), and
then:

* samples new molecules (:meth:`MoleculeVAE.sample`), reconstructs held-out ones and
  measures the exact canonical match (:meth:`MoleculeVAE.reconstruction_accuracy`);
* decodes the straight path between two molecules' codes (:meth:`MoleculeVAE.interpolate`);
* searches the latent space for molecules with a better property such as QED
  (:meth:`MoleculeVAE.optimize`): rounds of proposals around the best codes so far,
  decoded, screened by a property head (a small MLP from codes to the property) and
  scored with RDKit within a budget of evaluations; every RDKit call is counted, so
  the result says how many evaluations the best molecule took.

The fitted estimator saves in the one folder format of aekit's estimators
(:mod:`aekit.apps.base`): ``estimator.json`` (parameters, tokeniser vocabulary, training
log), ``estimator.safetensors`` and the network in ``model/``; nothing is pickled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions
from tqdm.auto import tqdm

from aekit.apps.base import (
    ESTIMATOR_FILE,
    TRAINING_CONSTRAINTS,
    AutoencoderEstimator,
    seed_from,
)
from aekit.data.molecules import TOKENIZERS, MoleculeTokenizer, canonical
from aekit.data.molecules import require as require_chem
from aekit.data.selfies_rings import RingGuard, largest_ring
from aekit.devices import resolve_device
from aekit.errors import AekitError, ConfigError, DataError
from aekit.metrics.moses import PROPERTIES, molecule_property
from aekit.rng import private_rng

OLD_STATE_FILE = "molecules.json"  # the folder format before the estimator base
CHUNK = 1000  # molecules per decoding batch
REDRAWS = 3  # rounds of redrawing strings whose molecule breaks the ring guard's limit
# MoleculeVAE.optimize: a round scores OPT_ROUND molecules picked by the property head
# among the new ones decoded from OPT_PROPOSALS codes per evaluation, proposed around
# the codes of the OPT_ELITE best molecules so far (perturbation radii log-uniform in
# OPT_RADII, or sampling at OPT_TEMPERATURE); OPT_STALL rounds with nothing new end it
OPT_ROUND = 100
OPT_PROPOSALS = 5
OPT_ELITE = 10
OPT_RADII = (0.1, 1.0)
OPT_TEMPERATURE = 0.5
OPT_STALL = 5
HEAD_WIDTH, HEAD_STEPS, HEAD_BATCH = 16, 200, 256  # the property head and its refits
MINIMISED = frozenset({"sa"})  # properties where lower is better (the rest: higher)


@dataclass
class OptimizationResult:
    """What latent-space optimisation of a property found (:meth:`MoleculeVAE.optimize`).

    Attributes
    ----------
    property : str
        The optimised property (``qed``, ``logp``, ``sa``, ``penalized_logp``).
    top : list of (str, float)
        The ten best new molecules found (none of the starting sample), best first
        (highest; lowest for ``sa``).
    evaluations : int
        RDKit property evaluations spent on new molecules, each a distinct molecule
        (the starting sample is not counted; see ``train_evaluations``).
    curve : list of (int, float)
        ``(evaluations, best value found so far)`` after every evaluation.
    train_best : float
        The best value in the starting sample the property head was first fitted on.
    train_evaluations : int
        Size of that sample.
    evaluations_to_best : int
        Evaluations spent when the best molecule was scored.
    head_r2 : float
        R^2 of the head's predictions for the molecules it picked, each made before
        RDKit scored the molecule (so out of sample; nan below 2 evaluations).
    evaluations_to_beat : int or None
        Evaluations spent when a molecule first beat ``train_best`` (None: none did).
    budget : int
        The evaluations allowed.
    """

    property: str
    top: list[tuple[str, float]]
    evaluations: int
    curve: list[tuple[int, float]]
    train_best: float
    train_evaluations: int
    evaluations_to_best: int
    head_r2: float
    evaluations_to_beat: int | None
    budget: int

    @property
    def best(self) -> float:
        """The best property value found."""
        return self.top[0][1] if self.top else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"property": self.property, "best": self.best, "top": self.top,
                "evaluations": self.evaluations, "budget": self.budget,
                "evaluations_to_best": self.evaluations_to_best,
                "evaluations_to_beat": self.evaluations_to_beat,
                "train_best": self.train_best, "train_evaluations": self.train_evaluations,
                "head_r2": self.head_r2, "curve": self.curve}


class MoleculeVAE(AutoencoderEstimator):
    """Sequence VAE on molecules, with sampling, reconstruction and latent-space search.

    Built on :class:`aekit.apps.base.AutoencoderEstimator`: parameters are checked
    declaratively at ``fit`` (a wrong value names the parameter and the allowed range),
    every method before ``fit`` raises :class:`aekit.apps.base.NotFittedError`, and
    :meth:`save` writes the one estimator folder format (``estimator.json`` with the
    parameters and the tokeniser's vocabulary, ``model/`` with the network).

    Parameters
    ----------
    tokenizer : str
        ``"selfies"`` (every decoded string is a valid molecule) or ``"smiles"``.
    latent_dim, hidden_size, embed_dim, decoder_layers, word_dropout, free_bits,
    kl_warmup_steps, beta
        Settings of :class:`aekit.models.seq_vae.SeqVAEConfig`.
        ``word_dropout=0`` (was 0.1): with the same 1,175 optimiser steps on MOSES the
        decoder without it reached a lower held-out -ELBO (33.1 vs 34.2 nats a
        molecule) and its samples a lower FCD/Test (18.7 vs 20.8); the free-bits floor
        keeps z in use without it (benchmarks/results/moses_baselines.md,
        moses_diagnose*.md).
    epochs, batch_size, learning_rate
        Training settings. ``hidden_size=128`` and ``learning_rate=3e-3`` (were 256 and
        1e-3) learned more per CPU-minute on MOSES: 2.7 times the optimiser steps per
        second and a lower loss in less time (benchmarks/results/moses_tune.md).
    ring_guard : bool, int or None
        Sample SELFIES with :class:`aekit.data.selfies_rings.RingGuard`: token by token,
        ring-index symbols whose ring would have more atoms than the largest ring of
        the training molecules (``max_ring_size_``) are never drawn. ``None`` (default):
        on for ``tokenizer="selfies"``; ``True`` with ``"smiles"`` is refused; an integer
        (at least 3) is the limit itself, in place of the learned one. Stochastic
        sampling (:meth:`sample`) redraws, from the same code, the rare string whose
        decoded molecule still has a larger ring (a ring bond the selfies decoder drops
        for lack of valence can leave a later ring larger than the guard measured); the
        count is ``last_redraws_``. Without the guard a decoder slip in a ring index
        becomes a macrocycle: 27 % of samples held a ring of 8+ atoms against none in
        MOSES test (benchmarks/results/moses_diagnose*.md).
    close_benzenes : bool or None
        A rule of the ring guard: a ring closure drawn at the end of an open kekule
        ``C=C-C=C-C=C`` path (atoms on no ring yet) must close it into the benzene, or
        be the first of a run of closures from that atom (a fused system written
        ``c12``) whose next one does (``RingGuard(close_benzenes=True)``; it admits
        99.85 % of the first 2,000 MOSES train strings, 99.9 % without). ``None``
        (default): on with the guard; ``True`` without the guard is refused. On the
        100k-molecule MOSES run it lowered FCD/Test from 14.8 to 13.6 (10,000 samples,
        the same seed; benchmarks/results/moses_100k_benzenes.md): the decoder's
        benzenes closed to the wrong atom become benzenes.
    max_minutes : float or None
        Wall-time budget of training: epochs run one at a time (resuming from the run
        folder's checkpoint) and training stops before an epoch that would end past
        the budget, or after ``epochs``.
    n_jobs : int
        Processes that tokenise the training molecules.
    device : str
        ``cpu``, ``cuda``, ``auto``, ...
    random_state : int, RandomState or None
        Seed of training, sampling and optimisation.
    verbose : bool
        Progress bars.

    Attributes
    ----------
    tokenizer_ : MoleculeTokenizer
        The vocabulary and maximum length, from the training molecules.
    model_ : SequenceVAE
        The fitted network (float32, on ``device``).
    history_ : list of dict
        The trainer's per-epoch log.
    max_ring_size_ : int or None
        Largest ring (atoms, RDKit's SSSR) among the training molecules: the ring
        guard's limit (None for a folder saved before the guard existed).
    last_redraws_ : int
        Strings the last :meth:`sample` call redrew (see ``ring_guard``).
    """

    _parameter_constraints: ClassVar[dict] = {
        "tokenizer": [StrOptions(set(TOKENIZERS))],
        **{name: [Interval(Integral, 1, None, closed="left")] for name in (
            "latent_dim", "hidden_size", "embed_dim", "decoder_layers", "epochs",
            "batch_size", "n_jobs")},
        "word_dropout": [Interval(Real, 0, 1, closed="left")],
        "free_bits": [Interval(Real, 0, None, closed="left")],
        "kl_warmup_steps": [Interval(Integral, 0, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "learning_rate": TRAINING_CONSTRAINTS["learning_rate"],
        "max_minutes": [Interval(Real, 0, None, closed="neither"), None],
        "ring_guard": ["boolean", Interval(Integral, 3, None, closed="left"), None],
        "close_benzenes": ["boolean", None],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }
    _saved_values: ClassVar[tuple[str, ...]] = ("history_", "max_ring_size_")
    _model_dtype: ClassVar[torch.dtype] = torch.float32

    def __init__(self, tokenizer: str = "selfies", *, latent_dim: int = 64,
                 hidden_size: int = 128, embed_dim: int = 64, decoder_layers: int = 1,
                 word_dropout: float = 0.0, free_bits: float = 0.1,
                 kl_warmup_steps: int = 2000, beta: float = 1.0, epochs: int = 10,
                 batch_size: int = 128, learning_rate: float = 3e-3,
                 ring_guard: bool | int | None = None, close_benzenes: bool | None = None,
                 max_minutes: float | None = None,
                 n_jobs: int = 1, device: str = "cpu",
                 random_state: Any = 0, verbose: bool = False) -> None:
        self.tokenizer = tokenizer
        self.latent_dim = latent_dim
        self.hidden_size = hidden_size
        self.embed_dim = embed_dim
        self.decoder_layers = decoder_layers
        self.word_dropout = word_dropout
        self.free_bits = free_bits
        self.kl_warmup_steps = kl_warmup_steps
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.ring_guard = ring_guard
        self.close_benzenes = close_benzenes
        self.max_minutes = max_minutes
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting -------------------------------------------------------------------
    def fit(self, X: Any, y: None = None, *, run_dir: str | Path | None = None
            ) -> MoleculeVAE:
        """Build the vocabulary from the SMILES ``X`` and train the VAE on them.

        ``X`` is a list of SMILES strings (or a 1-D array / Series of them, or a
        DataFrame with a ``smiles`` column). With ``run_dir`` the trainer writes its
        checkpoints and metrics there and the fitted estimator is saved into it.
        """
        import tempfile
        import time
        from dataclasses import replace

        from aekit.models import create
        from aekit.train import TrainConfig, Trainer

        self._validate_params()
        self._guarded()
        smiles = _smiles_list(X)
        if len(smiles) < 2:
            raise DataError(f"need at least 2 molecules to train, got {len(smiles)}")
        tokens = MoleculeTokenizer(self.tokenizer).split_all(smiles, self.n_jobs)
        tokenizer = MoleculeTokenizer(self.tokenizer).fit_tokens(tokens)
        ids = tokenizer.encode_tokens(smiles, tokens).float()
        seed = seed_from(self.random_state)
        with private_rng(seed):
            model = create(
                "seq_vae", data=ids, vocab_size=tokenizer.vocab_size,
                latent_dim=self.latent_dim, hidden_size=self.hidden_size,
                embed_dim=self.embed_dim, decoder_layers=self.decoder_layers,
                word_dropout=self.word_dropout, free_bits=self.free_bits,
                kl_warmup_steps=self.kl_warmup_steps, beta=self.beta)
        device = resolve_device(self.device)
        cfg = TrainConfig(epochs=self.epochs, batch_size=self.batch_size,
                          lr=self.learning_rate, val_fraction=0.0, grad_clip=5.0,
                          seed=seed, device=device, progress=bool(self.verbose),
                          checkpoint_every=0 if run_dir is None else 1)
        with private_rng(device=device):
            if self.max_minutes is None:
                result = Trainer(cfg, run_dir=run_dir).fit(model, ids)
            else:
                budget, start = 60.0 * self.max_minutes, time.perf_counter()
                with tempfile.TemporaryDirectory() as tmp:
                    folder = Path(run_dir or tmp)
                    for epoch in range(1, self.epochs + 1):
                        result = Trainer(replace(cfg, epochs=epoch, checkpoint_every=1),
                                         run_dir=folder).fit(model, ids, resume=epoch > 1)
                        spent = time.perf_counter() - start
                        if spent * (epoch + 1) / epoch > budget:
                            break
        self.tokenizer_ = tokenizer
        self.history_ = result.history
        self.max_ring_size_ = largest_ring(smiles) if tokenizer.kind == "selfies" else None
        self.model_ = model.eval()
        if run_dir is not None:
            self.save(run_dir)
        return self

    # -- persistence ---------------------------------------------------------------
    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray],
                                     dict[str, Any]]:
        values, arrays, models = super()._fitted_state()
        return {**values, "tokenizer_": self.tokenizer_.to_dict()}, arrays, models

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, np.ndarray],
                       models: dict[str, Any], device: str | None) -> None:
        if "tokenizer_" not in values:
            raise AekitError("lacks the tokenizer's vocabulary; the folder is damaged or "
                             "from another program")
        self.tokenizer_ = MoleculeTokenizer.from_dict(values["tokenizer_"])
        self.history_ = values.get("history_", [])
        self.max_ring_size_ = values.get("max_ring_size_")
        self.model_ = models["model"]

    @classmethod
    def load(cls, directory: str | Path, device: str | None = None) -> MoleculeVAE:
        """The estimator :meth:`save` wrote to ``directory`` (networks on ``device``,
        default the CPU); nothing is unpickled."""
        if (Path(directory) / OLD_STATE_FILE).is_file() and not (
                Path(directory) / ESTIMATOR_FILE).is_file():
            raise AekitError(f"{directory} was written by an older aekit ({OLD_STATE_FILE}, "
                             "no estimator.json): train it again")
        return super().load(directory, device=device)

    # -- codes and decoding --------------------------------------------------------
    def _ids(self, smiles: list[str]) -> torch.Tensor:
        return self.tokenizer_.encode(smiles).float().to(self.model_.device)

    def encode(self, smiles: list[str]) -> np.ndarray:
        """Posterior means ``(N, latent_dim)`` of ``smiles``."""
        self._check_fitted()
        smiles = _smiles_list(smiles)
        out = []
        with torch.inference_mode():
            for i in range(0, len(smiles), CHUNK):
                out.append(self.model_.embed(self._ids(smiles[i:i + CHUNK])).cpu())
        return torch.cat(out).numpy()

    def _guarded(self) -> bool:
        """Whether decoding uses the ring guard (``ring_guard``; refused with SMILES)."""
        kind = getattr(self, "tokenizer_", None)
        kind = kind.kind if kind is not None else self.tokenizer
        if self.ring_guard not in (None, False) and kind != "selfies":
            raise ConfigError(f"ring_guard={self.ring_guard}: the ring guard reads SELFIES, "
                              f"and this model's tokenizer is {kind!r}; leave it unset")
        guarded = kind == "selfies" and self.ring_guard is not False
        if self.close_benzenes and not guarded:
            raise ConfigError(f"close_benzenes=True is a rule of the ring guard, which this "
                              f"model does not use (tokenizer {kind!r}, ring_guard="
                              f"{self.ring_guard}); leave close_benzenes unset")
        return guarded

    def ring_limit(self) -> int | None:
        """The ring guard's limit in atoms: ``ring_guard`` when an integer, else the
        learned ``max_ring_size_``; None without the guard."""
        if not self._guarded():
            return None
        if self.ring_guard is not None and self.ring_guard is not True:
            return int(self.ring_guard)
        if getattr(self, "max_ring_size_", None) is None:
            raise AekitError("this model was saved before the ring guard (no "
                             "max_ring_size_): set ring_guard=False or train it again")
        return max(self.max_ring_size_, 3)

    def closes_benzenes(self) -> bool:
        """Whether decoding applies the ring guard's benzene rule: with the guard on,
        unless ``close_benzenes=False``."""
        return self.ring_limit() is not None and self.close_benzenes is not False

    def _guard(self) -> RingGuard | None:
        limit = self.ring_limit()
        return None if limit is None else RingGuard(self.tokenizer_.tokens, limit,
                                                    self.closes_benzenes())

    def decode(self, codes: Any, greedy: bool = True, temperature: float = 1.0) -> list[str]:
        """Molecules decoded from codes ``(N, latent_dim)``: canonical SMILES where RDKit
        parses the decoded string, the string as decoded otherwise (may be empty). With
        the ring guard (``ring_guard``) no drawn ring index closes a ring larger than
        ``max_ring_size_``."""
        self._check_fitted()
        return [canonical(s) or s for s in self._decode(codes, greedy, temperature)]

    def _decode(self, codes: Any, greedy: bool, temperature: float) -> list[str]:
        z_all = torch.as_tensor(np.asarray(codes), dtype=torch.float32)
        k = self.model_.config.latent_dim
        if z_all.ndim != 2 or z_all.shape[1] != k:
            raise DataError(f"codes: expected shape (N, {k}) (latent_dim={k}), "
                            f"got {tuple(z_all.shape)}")
        out: list[str] = []
        guard = self._guard()
        with torch.inference_mode():
            for i in range(0, len(z_all), CHUNK):
                z = z_all[i:i + CHUNK].to(self.model_.device)
                ids, _ = self.model_.generate(z, greedy=greedy, temperature=temperature,
                                              constraint=guard)
                out += self.tokenizer_.decode(ids.cpu())
        return out

    def sample(self, n: int, temperature: float = 1.0, seed: int | None = None) -> list[str]:
        """``n`` molecules decoded token by token from z ~ N(0, I) (see :meth:`decode`)."""
        self._check_fitted()
        if n < 1:
            raise ConfigError(f"n must be >= 1, got {n}")
        self.last_redraws_ = 0
        with private_rng(seed if seed is not None else seed_from(self.random_state),
                         device=str(self.model_.device)):
            z = torch.randn(n, self.model_.config.latent_dim)
            out = self._decode(z, greedy=False, temperature=temperature)
            limit = self.ring_limit()
            for _ in range(REDRAWS):
                again = [i for i, s in enumerate(out)
                         if limit is not None and largest_ring([s]) > limit]
                if not again:
                    break
                self.last_redraws_ += len(again)
                for i, s in zip(again, self._decode(z[again], False, temperature)):
                    out[i] = s
        return [canonical(s) or s for s in out]

    def reconstruction_accuracy(self, smiles: list[str]) -> float:
        """Share of ``smiles`` whose greedy decoding of the posterior mean is the same
        molecule (exact match of RDKit canonical SMILES). A molecule the tokeniser cannot
        encode (a token outside the vocabulary, too long) counts as not reconstructed."""
        self._check_fitted()
        smiles = _smiles_list(smiles)
        if not smiles:
            raise DataError("no molecules to reconstruct")
        ok = [s for s in smiles if self.tokenizer_.fits(s)]
        decoded = self.decode(self.encode(ok)) if ok else []
        hits = sum(canonical(a) == b for a, b in zip(ok, decoded))
        return hits / len(smiles)

    def interpolate(self, start: str, end: str, steps: int = 8) -> list[str]:
        """Molecules decoded (greedily) along the straight line between two codes,
        ``steps`` points from ``start``'s code to ``end``'s, ends included."""
        if steps < 2:
            raise ConfigError(f"steps must be >= 2, got {steps}")
        a, b = self.encode([start, end])
        t = np.linspace(0.0, 1.0, steps)[:, None]
        return self.decode((1 - t) * a + t * b)

    # -- property optimisation -----------------------------------------------------
    def optimize(self, smiles: list[str], property: str = "qed", *,
                 budget: int = 1000) -> OptimizationResult:
        """Search the latent space for molecules with a better ``property``, spending at
        most ``budget`` RDKit evaluations on new molecules.

        ``smiles`` is the starting sample: each is scored with RDKit (counted apart, in
        ``train_evaluations``) and encoded. A property head ``f`` (an MLP from a
        molecule's code ``mu(x)``, the encoder's posterior mean, to its property) learns
        from every scored molecule. Then each round (Bayesian optimisation with a neural
        surrogate and a trust region):

        1. refit ``f`` on all scored pairs ``(mu(x), y)`` (warm-started);
        2. propose codes around the elite, the codes of the ``OPT_ELITE`` best molecules
           scored so far: ``z = mu(x_e) + r * eps`` with ``eps ~ N(0, I)`` and the radius
           ``r`` log-uniform in ``OPT_RADII``, decoded greedily, and the elite codes
           themselves decoded by sampling at ``OPT_TEMPERATURE``;
        3. drop molecules already scored (no molecule is scored twice), invalid ones and
           ones the tokeniser cannot encode; encode the rest and score with RDKit those
           with the highest ``f(mu(x))``: ``OPT_ROUND`` a round, fewer in the last, so
           that exactly ``budget`` are spent.

        Proposals cost decodings, not evaluations: a round decodes ``OPT_PROPOSALS``
        candidates per evaluation it may spend and the head picks among them. The search
        stops early when ``OPT_STALL`` rounds in a row propose nothing new.
        ``property="sa"`` (synthetic accessibility) is minimised, the others maximised.
        """
        self._check_fitted()
        if property not in PROPERTIES:
            raise ConfigError(f"property={property!r} is not one of {', '.join(PROPERTIES)}")
        if isinstance(budget, bool) or not isinstance(budget, Integral) or budget < 1:
            raise ConfigError(f"budget must be an integer >= 1 (RDKit evaluations), "
                              f"got {budget!r}")
        smiles = _smiles_list(smiles)
        if len(smiles) < 10:
            raise DataError(f"need at least 10 molecules to fit a property head, "
                            f"got {len(smiles)}")
        sign = -1.0 if property in MINIMISED else 1.0
        y = np.array([molecule_property(s, property) for s in smiles])
        known = {canonical(s) for s in smiles}  # molecules scored: never scored again
        codes, scores = self.encode(smiles), (sign * y).astype(np.float32)  # head's data
        seed = seed_from(self.random_state)
        rng = np.random.default_rng(seed)
        found: dict[str, float] = {}
        curve: list[tuple[int, float]] = []
        guesses: list[float] = []  # the head's prediction of each molecule scored
        best, to_best, stalled = -math.inf, 0, 0
        with private_rng(seed, device=str(self.model_.device)), tqdm(
                total=budget, disable=not self.verbose, desc=f"optimise {property}") as bar:
            head = _PropertyHead(codes.shape[1], scores)
            while len(found) < budget and stalled < OPT_STALL:
                head.fit(codes, scores)
                n = min(OPT_ROUND, budget - len(found))
                new = self._proposals(codes[np.argsort(-scores)[:OPT_ELITE]],
                                      OPT_PROPOSALS * n, rng, known)
                stalled = 0 if new else stalled + 1
                if not new:
                    continue
                new_codes = self.encode(new)
                with torch.no_grad():
                    guess = head(torch.from_numpy(new_codes)).numpy()
                pick = np.argsort(-guess, kind="stable")[:n]
                for i in pick:
                    value = molecule_property(new[i], property)
                    known.add(new[i])
                    found[new[i]] = value
                    if sign * value > best:
                        best, to_best = sign * value, len(found)
                    curve.append((len(found), sign * best))
                    guesses.append(sign * float(guess[i]))
                    bar.update()
                codes = np.concatenate([codes, new_codes[pick]])
                scores = np.concatenate([scores, sign * np.array(
                    [found[new[i]] for i in pick], np.float32)])
        top = sorted(found.items(), key=lambda kv: -sign * kv[1])[:10]
        train_best = float(y.max() if sign > 0 else y.min())
        to_beat = next((n for n, b in curve if sign * b > sign * train_best), None)
        r2 = r2_score(list(found.values()), guesses) if len(found) > 1 else float("nan")
        return OptimizationResult(property, top, len(found), curve, train_best, len(y),
                                  to_best, float(r2), to_beat, budget)

    def _proposals(self, elite: np.ndarray, count: int, rng: np.random.Generator,
                   known: set[str | None]) -> list[str]:
        """Distinct new molecules (not in ``known``, valid, encodable) decoded from
        ``count`` codes around ``elite``: half perturbed and decoded greedily, half the
        elite codes decoded by sampling (see :meth:`optimize`)."""
        parents = elite[rng.integers(len(elite), size=count)]
        half = count // 2
        radii = np.exp(rng.uniform(*np.log(OPT_RADII), size=(half, 1)))
        moved = parents[:half] + radii * rng.standard_normal(parents[:half].shape)
        mols = (self.decode(moved.astype(np.float32))
                + self.decode(parents[half:], greedy=False, temperature=OPT_TEMPERATURE))
        return [s for s in dict.fromkeys(mols) if s not in known
                and canonical(s) is not None and self.tokenizer_.fits(s)]


def _smiles_list(X: Any) -> list[str]:
    """SMILES strings from a list, a 1-D array or Series, or a DataFrame's ``smiles``
    column (any case); anything else is a DataError naming the first bad item."""
    if hasattr(X, "columns"):  # a DataFrame
        columns = {str(c).lower(): c for c in X.columns}
        if "smiles" not in columns:
            raise DataError(f"X: a table of molecules needs a 'smiles' column, got "
                            f"{[str(c) for c in X.columns]}")
        X = X[columns["smiles"]]
    if isinstance(X, str | bytes):
        raise DataError("X: one string; give a list of SMILES strings")
    values = np.asarray(list(X), dtype=object)
    if values.ndim != 1:
        raise DataError(f"X: a list of SMILES strings, not an array of shape {values.shape}")
    for i, s in enumerate(values):
        if not isinstance(s, str):
            raise DataError(f"X: item {i} is a {type(s).__name__} ({s!r}), not a SMILES string")
    return values.tolist()


class _PropertyHead(torch.nn.Module):
    """The surrogate of :meth:`MoleculeVAE.optimize`: an MLP from codes to the score
    (the property, negated where lower is better), standardised with the starting
    sample's mean and spread. :meth:`fit` goes on training from where it stopped."""

    def __init__(self, dim: int, scores: np.ndarray) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(dim, HEAD_WIDTH), torch.nn.SiLU(),
            torch.nn.Linear(HEAD_WIDTH, HEAD_WIDTH), torch.nn.SiLU(),
            torch.nn.Linear(HEAD_WIDTH, 1))
        self.mu, self.sd = float(scores.mean()), max(float(scores.std()), 1e-6)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)[:, 0] * self.sd + self.mu

    def fit(self, codes: np.ndarray, scores: np.ndarray) -> None:
        """``HEAD_STEPS`` Adam steps on mini-batches of the pairs ``(codes, scores)``."""
        x = torch.from_numpy(codes)
        t = (torch.from_numpy(scores) - self.mu) / self.sd
        opt = torch.optim.Adam(self.net.parameters(), lr=3e-3, weight_decay=1e-3)
        for _ in range(HEAD_STEPS):
            rows = torch.randint(len(x), (min(len(x), HEAD_BATCH),))
            opt.zero_grad()
            (self.net(x[rows])[:, 0] - t[rows]).square().mean().backward()
            opt.step()


# -- reports -------------------------------------------------------------------------
def draw_molecules(smiles: list[str], path: str | Path, *, legends: list[str] | None = None,
                   per_row: int = 6, size: int = 220) -> Path:
    """A PNG grid of molecule drawings (RDKit); strings RDKit cannot parse are drawn as
    empty cells labelled "invalid"."""
    if not smiles:
        raise ConfigError("no molecules to draw")
    chem = require_chem("rdkit.Chem")
    draw = require_chem("rdkit.Chem.Draw")
    mols, labels = [], []
    for i, s in enumerate(smiles):
        mol = chem.MolFromSmiles(s) if s else None
        mols.append(mol if mol is not None else chem.Mol())
        label = legends[i] if legends else s
        labels.append(label if mol is not None else f"invalid: {label}"[:40])
    image = draw.MolsToGridImage(mols, molsPerRow=per_row, subImgSize=(size, size),
                                 legends=[lab[:40] for lab in labels])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def write_molecule_report(directory: str | Path, *, title: str, samples: list[str],
                          metrics: dict[str, Any], interpolation: list[str] | None = None,
                          optimization: OptimizationResult | None = None,
                          history: list[dict[str, Any]] | None = None,
                          source: str = "") -> Path:
    """``report.html`` in ``directory``: drawn samples, the metric table, the decoded
    interpolation path, the optimisation curve and top molecules, the loss curves.
    Pictures go to ``directory/plots``."""
    from aekit.report import plots
    from aekit.report.html import Section, write_report

    directory = Path(directory)
    pics = directory / "plots"
    sections = [Section("Samples from the prior", text=f"{len(samples)} molecules drawn "
                        "token by token from z ~ N(0, I); the first 24 are shown.",
                        images=[draw_molecules(samples[:24], pics / "samples.png")]),
                Section("Metrics", table=[{"metric": k, "value": v} for k, v in
                                          metrics.items()])]
    if interpolation:
        sections.append(Section(
            "Interpolation", text="Greedy decodings of codes on the straight line from the "
            "first molecule's code to the last one's.",
            images=[draw_molecules(interpolation, pics / "interpolation.png",
                                   per_row=len(interpolation), size=180)]))
    if optimization is not None:
        lines = {"best of the starting sample": (
            [0, max(optimization.evaluations, 1)], [optimization.train_best] * 2)}
        if optimization.curve:
            n, best = zip(*optimization.curve)
            lines["best found"] = (list(n), list(best))
        curve = plots.line_plot(None, lines, pics / "optimization.png",
                                xlabel="property evaluations",
                                ylabel=optimization.property,
                                title=f"latent-space optimisation of {optimization.property}")
        top = optimization.top[:6]
        images = [curve] + ([draw_molecules([s for s, _ in top], pics / "top.png",
                                            legends=[f"{v:.3f}" for _, v in top])]
                            if top else [])
        beat = optimization.evaluations_to_beat
        sections.append(Section(
            "Property optimisation",
            text=f"Best {optimization.property} {optimization.best:.4f} after "
                 f"{optimization.evaluations} of {optimization.budget} evaluations (first "
                 f"reached at {optimization.evaluations_to_best}); best in the starting "
                 f"sample of {optimization.train_evaluations}: "
                 f"{optimization.train_best:.4f}, "
                 + (f"first beaten at evaluation {beat}" if beat else "not beaten")
                 + f"; the head's R^2 on the molecules it picked, predicted before they "
                 f"were scored: {optimization.head_r2:.3f}.",
            images=images))
    if history:
        sections.append(Section("Training", images=[
            plots.loss_curves(history, pics / "loss_curves.png")]))
    return write_report(directory / "report.html", title=title, sections=sections,
                        subtitle=source or None)
