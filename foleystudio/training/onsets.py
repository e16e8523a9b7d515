"""Onsets of audio, motion peaks of video, and how well the two agree (onset F1, AV-Align).

Design choices:

* **Audio onsets** come from an *energy-rise* detector, not a learned one: the K-weighting-free
  frame energy (mean power over both channels) in 20 ms windows every 10 ms, in dB, floored at
  ``ENERGY_FLOOR_DB``. The detection function is the rise in dB over the last ``RISE_FRAMES``
  hops; an onset is a local maximum of that rise that exceeds ``threshold_db`` where the frame
  itself is above the floor, and onsets closer than ``min_gap_s`` keep only the stronger one.
  Working in dB makes the detector level-independent (a quiet footstep and a loud one rise the same
  number of dB out of the background), which matters because evaluation compares takes made at
  different loudness. It is deterministic, parameter-light and Qt-free; a spectral-flux detector
  would catch timbre changes at constant level too, but Foley events are mostly energy events.
* **Video peaks** are local maxima of the whole-picture motion energy
  (`foleystudio.video.motion.motion_energy`, channel 3) above ``relative`` x its maximum (and an
  absolute floor, so a still picture has no peaks). Frame k's motion is the change from frame k - 1,
  so a peak at frame k is timed at ``k / fps``.
* **Onset F1** matches detected to reference onsets one-to-one (greedy, closest pairs first) within
  ``tolerance_s``; precision = matched / detected, recall = matched / reference.
* **AV-Align** (Yariv et al. 2024, used by Tri-Ergon): audio onsets vs video motion peaks, a pair
  matching when they are at most one video frame apart; score = matched / (|A| + |V| - matched), an
  intersection over union. Yariv's reference code lets several audio peaks match the same video
  peak (the score can then exceed 1); here matching is one-to-one, so the score lies in [0, 1].
  Both empty scores 1 (nothing to disagree on); one empty scores 0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44100
HOP_S = 0.010
WINDOW_S = 0.020
RISE_FRAMES = 3  # rise measured over 30 ms: a footstep's attack, not a slow swell
ENERGY_FLOOR_DB = -70.0  # dBFS (mean power); quieter frames cannot hold an onset
DEFAULT_RISE_DB = 9.0
DEFAULT_MIN_GAP_S = 0.06
MOTION_WHOLE_PICTURE = 3  # channel of motion_energy that covers the whole picture


def energy_envelope_db(audio, sample_rate: int = SAMPLE_RATE, hop_s: float = HOP_S,
                       window_s: float = WINDOW_S) -> tuple[np.ndarray, float]:
    """Frame energy in dBFS (mean power over channels; floored) and the frame rate in Hz.

    Frame k covers samples [k * hop, k * hop + window); audio is (channels, n) or mono (n,).
    """
    wave = np.asarray(audio, dtype=np.float64)
    if wave.ndim == 1:
        wave = wave[None]
    if wave.ndim != 2 or wave.shape[1] == 0:
        raise ValueError(f"audio must be (channels, n) or (n,) with samples, got shape {wave.shape}")
    hop = max(1, int(round(hop_s * sample_rate)))
    window = max(hop, int(round(window_s * sample_rate)))
    power = np.mean(np.square(wave), axis=0)
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    starts = np.arange(0, max(1, len(power) - window + 1), hop)
    ends = np.minimum(starts + window, len(power))
    mean_power = (cumulative[ends] - cumulative[starts]) / np.maximum(ends - starts, 1)
    floor = 10.0 ** (ENERGY_FLOOR_DB / 10.0)
    return 10.0 * np.log10(np.maximum(mean_power, floor)), sample_rate / hop


def pick_peaks(values, *, threshold: float, min_gap: int = 1) -> np.ndarray:
    """Indices of local maxima of ``values`` above ``threshold``, at least ``min_gap`` apart.

    A plateau counts once (its first index). Closer peaks keep the larger (earlier on ties).
    """
    signal = np.asarray(values, dtype=np.float64)
    if signal.ndim != 1:
        raise ValueError(f"peak picking needs a 1-D signal, got shape {signal.shape}")
    if len(signal) == 0:
        return np.zeros(0, dtype=int)
    padded = np.concatenate([[-np.inf], signal, [-np.inf]])
    rising = padded[1:-1] > padded[:-2]
    not_falling_after = padded[1:-1] >= padded[2:]
    candidates = np.flatnonzero(rising & not_falling_after & (signal > threshold))
    # Strongest first; a candidate within min_gap of a kept peak is dropped.
    kept: list[int] = []
    for index in sorted(candidates, key=lambda i: (-signal[i], i)):
        if all(abs(index - other) >= min_gap for other in kept):
            kept.append(int(index))
    return np.array(sorted(kept), dtype=int)


def detect_onsets(audio, sample_rate: int = SAMPLE_RATE, *, threshold_db: float = DEFAULT_RISE_DB,
                  min_gap_s: float = DEFAULT_MIN_GAP_S) -> np.ndarray:
    """Onset times in seconds (sorted) of (channels, n) or mono audio; see the module docstring."""
    envelope, rate = energy_envelope_db(audio, sample_rate)
    before = np.concatenate([np.full(RISE_FRAMES, ENERGY_FLOOR_DB), envelope])[: len(envelope)]
    rise = envelope - before
    rise[envelope <= ENERGY_FLOOR_DB + 1e-9] = 0.0
    peaks = pick_peaks(rise, threshold=threshold_db, min_gap=max(1, int(round(min_gap_s * rate))))
    # The rise first peaks at the first window lying wholly after the attack: its start is the onset.
    return np.asarray(peaks / rate, dtype=np.float64)


def motion_peaks(frames, fps: float, *, relative: float = 0.3, floor: float = 1e-3) -> np.ndarray:
    """Times (s) of whole-picture motion-energy peaks of uint8 frames [T, H, W, 3] at ``fps``."""
    from foleystudio.video.motion import motion_energy

    energy = motion_energy(np.asarray(frames))[:, MOTION_WHOLE_PICTURE]
    return motion_energy_peaks(energy, fps, relative=relative, floor=floor)


def motion_energy_peaks(energy, fps: float, *, relative: float = 0.3, floor: float = 1e-3) -> np.ndarray:
    """Peak times (s) of a per-frame motion-energy series: local maxima above
    max(floor, relative x max(energy)), one frame apart at least; peak k is at k / fps."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    series = np.asarray(energy, dtype=np.float64)
    if len(series) == 0:
        return np.zeros(0)
    threshold = max(floor, relative * float(series.max()))
    return pick_peaks(series, threshold=threshold, min_gap=2) / float(fps)


def match_count(detected, reference, tolerance_s: float) -> int:
    """Pairs matched one-to-one within ``tolerance_s`` (inclusive), closest pairs first."""
    a = np.asarray(detected, dtype=np.float64).ravel()
    b = np.asarray(reference, dtype=np.float64).ravel()
    if tolerance_s < 0:
        raise ValueError(f"tolerance must be >= 0 s, got {tolerance_s}")
    if len(a) == 0 or len(b) == 0:
        return 0
    distance = np.abs(a[:, None] - b[None, :])
    pairs = np.argwhere(distance <= tolerance_s + 1e-9)
    order = np.argsort(distance[pairs[:, 0], pairs[:, 1]], kind="stable")
    used_a, used_b, matched = set(), set(), 0
    for i, j in pairs[order]:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            matched += 1
    return matched


@dataclass(frozen=True)
class OnsetScores:
    """Precision, recall and F1 of detected onsets against reference onsets."""

    precision: float
    recall: float
    f1: float
    matched: int
    detected: int
    reference: int


def onset_f1(detected, reference, tolerance_s: float = 0.05) -> OnsetScores:
    """Onset precision/recall/F1 with one-to-one matching within ``tolerance_s``.

    Both empty: all scores 1 (the detector correctly found nothing). One empty: the scores are 0
    (precision of an empty detection is taken as 1 only when the reference is empty too).
    """
    matched = match_count(detected, reference, tolerance_s)
    n_detected, n_reference = len(np.ravel(detected)), len(np.ravel(reference))
    if n_detected == 0 and n_reference == 0:
        return OnsetScores(1.0, 1.0, 1.0, 0, 0, 0)
    precision = matched / n_detected if n_detected else 0.0
    recall = matched / n_reference if n_reference else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return OnsetScores(precision, recall, f1, matched, n_detected, n_reference)


def av_align(audio_onsets_s, video_peaks_s, fps: float) -> float:
    """AV-Align: matched / (|A| + |V| - matched), audio onsets vs video peaks within ±1 frame (1/fps)."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    n_audio, n_video = len(np.ravel(audio_onsets_s)), len(np.ravel(video_peaks_s))
    if n_audio == 0 and n_video == 0:
        return 1.0
    matched = match_count(audio_onsets_s, video_peaks_s, 1.0 / fps)
    return matched / (n_audio + n_video - matched)
