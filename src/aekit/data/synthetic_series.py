"""Labelled synthetic multichannel series with injected anomalies.

The normal behaviour is a small linear dynamical picture that real sensor data often
resembles: ``n_factors`` latent sinusoids (each with its own period and phase) are mixed
into ``n_channels`` channels by a fixed random matrix, and Gaussian noise is added, so
channels are periodic *and* correlated with each other.

Anomalies are injected into non-overlapping segments, each on one channel, and every
time step they touch is labelled 1:

========================  ================================================================
kind                      what happens in the segment
========================  ================================================================
``spike``                 one to three consecutive points jump by 4-7 channel std
``level_shift``           the channel is offset by 1.5-3 channel std
``frequency``             the channel's periodic part runs 2.5-4x faster
``flatline``              the channel is stuck at its value at the segment's start
``correlation``           the channel shows its own normal signal from another time
                          (a lag of 0.3-0.7 of the slowest period): each channel alone
                          looks normal, but it no longer moves with the others
========================  ================================================================

Everything is a pure function of ``seed`` (and ``system_seed``, which fixes the normal
behaviour on its own so that a training and a test series can share it).

>>> s = make_series(length=1000, n_channels=3, n_per_kind=1, seed=0)
>>> s.values.shape, s.labels.shape
((1000, 3), (1000,))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from aekit.errors import ConfigError

ANOMALY_KINDS = ("spike", "level_shift", "frequency", "flatline", "correlation")


@dataclass
class AnomalyEvent:
    """One injected anomaly: its kind, the channel it affects and ``[start, end)``."""

    kind: str
    channel: int
    start: int
    end: int


@dataclass
class SyntheticSeries:
    """A generated series.

    Attributes
    ----------
    values : np.ndarray
        float32, shape ``(T, C)``: one row per time step, one column per channel.
    labels : np.ndarray
        int64, shape ``(T,)``: 1 where an anomaly was injected, else 0.
    events : list of AnomalyEvent
        The injected anomalies, in time order.
    channel_names : list of str
        ``["ch0", "ch1", ...]``.
    """

    values: np.ndarray
    labels: np.ndarray
    events: list[AnomalyEvent] = field(default_factory=list)
    channel_names: list[str] = field(default_factory=list)


def _segments(rng: np.random.Generator, length: int, lengths: list[int], margin: int,
              gap: int) -> list[int]:
    """Start positions of non-overlapping segments of the given lengths (``gap`` apart)."""
    budget = length - 2 * margin - sum(lengths) - gap * (len(lengths) - 1)
    if budget < 0:
        raise ConfigError(
            f"length={length} is too short for {len(lengths)} anomalies; use a longer "
            "series or fewer anomalies"
        )
    # split the free budget into len+1 random parts (sorted uniform cut points)
    cuts = np.sort(rng.integers(0, budget + 1, size=len(lengths)))
    starts, pos, prev = [], margin, 0
    for cut, seg in zip(cuts, lengths):
        pos += int(cut - prev)
        starts.append(pos)
        pos += seg + gap
        prev = cut
    return starts


def make_series(
    length: int = 4000,
    n_channels: int = 4,
    *,
    anomalies: Sequence[str] | None = ANOMALY_KINDS,
    n_per_kind: int = 2,
    segment_length: int = 40,
    n_factors: int = 2,
    periods: tuple[float, float] = (20.0, 80.0),
    noise: float = 0.1,
    margin: int = 100,
    seed: int = 0,
    system_seed: int | None = None,
) -> SyntheticSeries:
    """Generate a labelled multichannel series.

    Parameters
    ----------
    length : int
        Number of time steps ``T``.
    n_channels : int
        Number of channels ``C``.
    anomalies : sequence of str or None
        Kinds to inject (see :data:`ANOMALY_KINDS`); ``None`` or empty for a clean series.
    n_per_kind : int
        How many anomalies of each kind.
    segment_length : int
        Length of every non-spike anomaly (spikes last 1-3 steps).
    n_factors : int
        Number of latent sinusoids shared by the channels.
    periods : (float, float)
        Range the latent periods are drawn from (in steps).
    noise : float
        Standard deviation of the additive Gaussian noise.
    margin : int
        No anomaly starts in the first or last ``margin`` steps.
    seed : int
        Seeds the noise and the anomalies (and the system, unless ``system_seed`` is set).
    system_seed : int, optional
        Seeds the normal behaviour (periods, phases, mixing, offsets) on its own, so
        series with the same ``system_seed`` and different ``seed`` come from one system:
        fit on one, score another.

    Returns
    -------
    SyntheticSeries
    """
    kinds = list(anomalies or ())
    unknown = sorted(set(kinds) - set(ANOMALY_KINDS))
    if unknown:
        raise ConfigError(f"unknown anomaly kind(s) {unknown}; choose from {ANOMALY_KINDS}")
    for name, value, low in (("length", length, 1), ("n_channels", n_channels, 1),
                             ("n_factors", n_factors, 1), ("segment_length", segment_length, 1),
                             ("n_per_kind", n_per_kind, 0), ("margin", margin, 0)):
        if value < low:
            raise ConfigError(f"{name} must be >= {low}, got {value}")
    if not 0 < periods[0] <= periods[1]:
        raise ConfigError(f"periods must satisfy 0 < low <= high, got {periods}")
    if noise < 0:
        raise ConfigError(f"noise must be >= 0, got {noise}")

    sys_rng = np.random.default_rng(seed if system_seed is None else system_seed)
    rng = np.random.default_rng([seed, 1])
    t = np.arange(length, dtype=np.float64)
    freq = 2 * np.pi / sys_rng.uniform(*periods, size=n_factors)
    phase = sys_rng.uniform(0, 2 * np.pi, size=n_factors)
    mixing = sys_rng.normal(size=(n_factors, n_channels))
    mixing /= np.linalg.norm(mixing, axis=0, keepdims=True)  # unit-variance-ish channels
    offset = sys_rng.normal(scale=0.5, size=n_channels)

    def periodic(tt: np.ndarray, speed: float = 1.0) -> np.ndarray:
        """The factor signals at times ``tt`` (``(len(tt), n_factors)``)."""
        return np.sin(np.outer(tt * speed, np.ones(n_factors)) * freq + phase)

    clean = periodic(t) @ mixing + offset
    values = clean + rng.normal(scale=noise, size=clean.shape)
    scale = clean.std(axis=0) + noise
    labels = np.zeros(length, dtype=np.int64)

    plan = [k for k in kinds for _ in range(n_per_kind)]
    rng.shuffle(plan)
    seg_lengths = [int(rng.integers(1, 4)) if k == "spike" else segment_length for k in plan]
    starts = _segments(rng, length, seg_lengths, margin, gap=segment_length)
    events = []
    for kind, start, seg in zip(plan, starts, seg_lengths):
        ch, end = int(rng.integers(n_channels)), start + seg
        idx = np.arange(start, end)
        if kind == "spike":
            values[idx, ch] += rng.choice([-1, 1]) * rng.uniform(4, 7) * scale[ch]
        elif kind == "level_shift":
            values[idx, ch] += rng.choice([-1, 1]) * rng.uniform(1.5, 3) * scale[ch]
        elif kind == "frequency":
            fast = periodic(t[idx], speed=rng.uniform(2.5, 4)) @ mixing[:, ch] + offset[ch]
            values[idx, ch] = fast + rng.normal(scale=noise, size=seg)
        elif kind == "flatline":
            values[idx, ch] = values[start, ch]
        else:  # correlation: the channel's own signal from another time (same marginals)
            lag = rng.uniform(0.3, 0.7) * 2 * np.pi / freq.min()
            values[idx, ch] = (periodic(t[idx] + lag) @ mixing[:, ch] + offset[ch]
                               + rng.normal(scale=noise, size=seg))
        labels[idx] = 1
        events.append(AnomalyEvent(kind, ch, start, end))
    events.sort(key=lambda e: e.start)
    return SyntheticSeries(values.astype(np.float32), labels, events,
                           [f"ch{i}" for i in range(n_channels)])
