"""Reference likeness: the take starts from its reference sound, laid along the model's own take.

Why: the bundled generator follows the curve and the picture but not its reference's sound (its
demo footsteps were a dull thump where the bank's "leather footsteps" are a click and a scuff;
MODEL_CARD.md of foley-small). A sound designer with a good recording and a picture to fit would
cut the recording onto the picture's events and then shape it; this does that, and lets the model
do the shaping, as image and audio tools do with an init image or audio and a noise level
(SDEdit, Meng et al. 2022; Stable Audio's init audio).

How, for a take with likeness ``L`` in (0, 1]:

1. The model makes the take as usual (the first pass): its timing follows the picture and the
   curve.
2. The reference's latent is laid along that take (`lay_out`), in one of two ways. A reference
   may be several recordings (the bank's variants of a caption, `reference_bank`); the first is
   the one the prompt found, the others are more of its kind.
   *Looped*, for a recording of at least ``LOOP_MIN_S`` that is steady (wind, rain, an engine:
   its loudness spreads over less than ``STEADY_RANGE_DB``), or whatever it is when the first pass
   has no onsets: the first recording only (an ambience that changed recording every few seconds
   would change place: the bank's "wind" recordings differ by 6.6 dB of band shape), repeated,
   each repeat from a point in its first half drawn by the take's seed (`restart_offsets`: a loop
   that comes round at one fixed period is heard as a loop), each restart crossfaded over
   ``LOOP_FADE_S``, each frame's level following the first pass's
   loudness over ``LEVEL_WINDOW_S`` (400 ms, the momentary window), so the reference's own
   short-term movement stays. *Placed*, otherwise: at each onset of the first pass (a rise of at
   least ``RISE_DB`` within ``BACK_S``, within ``RANGE_DB`` of its loudest, at most one per
   ``GAP_S``) one of the reference's events (from an onset to the next, or to the recording's
   end: every event of every recording), taken in shuffled rounds with none twice in a row
   (`round_robin`, as a game's footstep container plays its steps), cut at the next onset, given
   the tone by which the first pass differs there from its whole (so the copies vary as the
   model's events do), each channel raised or lowered so that its loudest frame is the first
   pass's loudest in that stretch; between the events the first pass stays, given the
   reference's tone (`tone_match.ToneMatch` at full strength over all its recordings: their band
   shape, each frame's loudness kept), since a short reference leaves most frames to it. A first
   pass with no onsets and a reference too short to loop without fluttering: the first pass in
   the reference's tone. The rounds are shuffled by the take's seed, so a variation remade alone
   is the same take.
3. The model samples again, from that layout mixed with fresh noise at flow time ``L``
   (x_L = (1 - L) z + L layout; the sampler's steps spread over [L, 1]). At 1 the layout is the
   take; lower, the model re-makes more of it to fit the curve, the picture and the text.

Costs one more pass (twice the sampling time). The layout works on latent frames of the analytic
codec (every band a level in dB), where moving a frame's level is one addition.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from foleystudio.engine.tone_match import ToneMatch, band_shape_db

logger = logging.getLogger(__name__)

RISE_DB = 8.0
BACK_S = 0.14
GAP_S = 0.23
RANGE_DB = 30.0
LEVEL_WINDOW_S = 0.4
LOOP_MIN_S = 1.0
LOOP_FADE_S = 0.25
STEADY_RANGE_DB = 12.0
VARIATION_MAX_DB = 6.0


def frame_loudness_db(codec, latent: torch.Tensor) -> torch.Tensor:
    """Loudness per channel and latent frame [2, T] of a latent [C, T] (the codec's proxy, LUFS)."""
    return codec.latent_loudness_lufs(latent[None].float())[0]


def _mono_db(levels: torch.Tensor) -> torch.Tensor:
    return 10.0 * torch.log10(torch.pow(10.0, levels / 10.0).mean(dim=0) + 1e-12)


def onsets(levels: torch.Tensor, frame_rate: float) -> list[int]:
    """Frames [T] (mono loudness in dB) where a sound starts: ``RISE_DB`` over the quietest of the
    last ``BACK_S``, within ``RANGE_DB`` of the loudest frame, at least ``GAP_S`` after the last."""
    back = max(1, round(BACK_S * frame_rate))
    gap = max(1, round(GAP_S * frame_rate))
    loudest = float(levels.max())
    found: list[int] = []
    for frame in range(1, levels.shape[0]):
        rise = float(levels[frame] - levels[max(0, frame - back):frame].min())
        if rise >= RISE_DB and float(levels[frame]) >= loudest - RANGE_DB and (not found or frame - found[-1] >= gap):
            found.append(frame)
    return found


def reference_events(codec, reference: torch.Tensor, frame_rate: float) -> list[torch.Tensor]:
    """The reference's events [C, frames]: from each onset to the next, the last to its end; the
    whole reference when it has no onset."""
    starts = onsets(_mono_db(frame_loudness_db(codec, reference)), frame_rate) or [0]
    ends = starts[1:] + [reference.shape[1]]
    return [reference[:, start:end] for start, end in zip(starts, ends, strict=True)]


def reference_event(codec, reference: torch.Tensor, frame_rate: float) -> torch.Tensor:
    """The reference's first event (`reference_events`)."""
    return reference_events(codec, reference, frame_rate)[0]


def round_robin(count: int, choices: int, seed: int) -> list[int]:
    """``count`` picks among ``choices`` sounds: rounds in which each comes once, each round
    shuffled by ``seed``, none twice in a row when there are two or more (a repeated step is what
    makes copied Foley sound like a machine gun)."""
    if choices < 1:
        raise ValueError("round_robin needs at least one sound to choose from")
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []
    while len(order) < count:
        shuffled = torch.randperm(choices, generator=generator).tolist()
        if order and choices > 1 and shuffled[0] == order[-1]:
            shuffled[0], shuffled[-1] = shuffled[-1], shuffled[0]
        order.extend(shuffled)
    return order[:count]


def lay_out(codec, references: torch.Tensor | Sequence[torch.Tensor], first_pass: torch.Tensor, frame_rate: float,
            seed: int = 0) -> torch.Tensor:
    """The reference laid along a first-pass latent [C, T] (module docstring). ``references``: one
    latent [C, R] or several recordings of one sound, the first being the one found. A steady
    first recording of at least ``LOOP_MIN_S`` is looped alone at the take's level, as is any such
    recording when the take has no onsets; otherwise the events of every recording go at the
    take's onsets, over the take in the reference's tone; a take with no onsets and a reference too
    short to loop without fluttering is the take in the reference's tone. ``seed`` shuffles the
    order of the events. Returns [C, T]."""
    references = [references] if isinstance(references, torch.Tensor) else list(references)
    if not references:
        raise ValueError("lay_out needs at least one reference latent")
    for reference in references:
        if reference.shape[0] != first_pass.shape[0]:
            raise ValueError(f"reference has {reference.shape[0]} latent channels, the take {first_pass.shape[0]}")
    references, first_pass = [reference.float() for reference in references], first_pass.float()
    levels = frame_loudness_db(codec, first_pass)
    starts = onsets(_mono_db(levels), frame_rate)
    found = references[0]
    if found.shape[1] >= LOOP_MIN_S * frame_rate and (not starts or is_steady(codec, found)):
        return _looped(codec, found, levels, frame_rate, seed)
    toned = ToneMatch(codec, torch.cat(references, dim=1), 1.0)(first_pass[None])[0]
    if not starts:
        return toned
    events = [event for reference in references for event in reference_events(codec, reference, frame_rate)]
    chosen = [events[pick] for pick in round_robin(len(starts), len(events), seed)]
    return _placed(codec, chosen, toned, first_pass, levels, starts)


def is_steady(codec, reference: torch.Tensor) -> bool:
    """Whether a sound goes on rather than happens: the spread of its frames' loudness (5th to 95th
    percentile) is under ``STEADY_RANGE_DB`` (wind, rain, an engine; not a slam and its decay)."""
    levels = _mono_db(frame_loudness_db(codec, reference)).cpu()  # quantile is not on every device
    low, high = torch.quantile(levels, torch.tensor([0.05, 0.95], dtype=levels.dtype))
    return float(high - low) < STEADY_RANGE_DB


def _placed(codec, events: list[torch.Tensor], base: torch.Tensor, first_pass: torch.Tensor, levels: torch.Tensor,
            starts: list[int]) -> torch.Tensor:
    """``events[i]`` pasted over ``base`` at ``starts[i]``, cut at the next; ``levels``: the take's [2, T].
    Each copy is given the tone by which the first pass's stretch there differs from the first
    pass as a whole (at most ``VARIATION_MAX_DB`` a band), so the copies are not all alike: a step
    the model made brighter comes out brighter."""
    laid = base.clone()
    config = codec.config
    overall = band_shape_db(first_pass[None], config)[0]
    ends = starts[1:] + [base.shape[1]]
    for event, start, end in zip(events, starts, ends, strict=True):
        stop = min(end, start + event.shape[1])
        change = band_shape_db(first_pass[None, :, start:stop], config)[0] - overall
        change = (change - change.mean()).clamp(-VARIATION_MAX_DB, VARIATION_MAX_DB)
        piece = _with_band_change(event[:, : stop - start], change, config)[None]
        lift = levels[:, start:stop].amax(dim=1) - frame_loudness_db(codec, piece[0]).amax(dim=1)  # [2]
        laid[:, start:stop] = codec.shift_loudness(piece, lift[None, :, None].expand(1, 2, stop - start))[0]
    return laid


def _with_band_change(latent: torch.Tensor, change_db: torch.Tensor, config) -> torch.Tensor:
    """A latent [C, T] with every frame's band b moved by change_db[b] dB."""
    channels, frames = latent.shape
    stacked = latent.reshape(2, config.frames_per_latent, config.n_mels, frames)
    return (stacked + (change_db / config.scale_db)[None, None, :, None]).reshape(channels, frames)


def _looped(codec, reference: torch.Tensor, levels: torch.Tensor, frame_rate: float, seed: int) -> torch.Tensor:
    looped = loop(reference, levels.shape[1], round(LOOP_FADE_S * frame_rate), restart_offsets(reference, seed))
    width = max(1, round(LEVEL_WINDOW_S * frame_rate))
    lift = _smoothed_db(levels, width) - _smoothed_db(frame_loudness_db(codec, looped), width)
    return codec.shift_loudness(looped[None], lift[None])[0]


def restart_offsets(reference: torch.Tensor, seed: int, count: int = 64) -> list[int]:
    """Where each repeat of a loop after the first starts in ``reference`` [C, R]: frames drawn by
    ``seed`` from its first half, so every repeat is at least half the recording long and the loop
    does not come round at one fixed period (a 3 s wind repeating every 3 s is heard as a loop)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, max(1, reference.shape[1] // 2), (count,), generator=generator).tolist()


def loop_period(reference_frames: int, frame_rate: float) -> int:
    """Frames between the restarts of a plain loop (no offsets) of a reference that long: its length
    less the crossfade `_looped` gives it."""
    return reference_frames - _fade_frames(round(LOOP_FADE_S * frame_rate), reference_frames)


def _fade_frames(fade: int, reference_frames: int) -> int:
    return max(0, min(fade, reference_frames // 4))


def loop(reference: torch.Tensor, frames: int, fade: int, offsets: Sequence[int] = ()) -> torch.Tensor:
    """``reference`` [C, R] repeated to ``frames``, each restart crossfaded over ``fade`` frames (at
    most a quarter of R): the band levels glide from the end into the start, so the loop has no
    jump where it starts over. Repeat k (from 1) starts ``offsets[k - 1]`` frames into the
    reference (at most half of R; 0 once the offsets run out)."""
    fade = _fade_frames(fade, reference.shape[1])
    looped = reference
    weights = torch.linspace(0.0, 1.0, fade + 2, dtype=reference.dtype, device=reference.device)[1:-1]
    repeats = iter(offsets)
    while looped.shape[1] < frames:
        following = reference[:, min(next(repeats, 0), reference.shape[1] // 2):]
        if fade:
            joined = (1.0 - weights) * looped[:, -fade:] + weights * following[:, :fade]
            looped = torch.cat([looped[:, :-fade], joined, following[:, fade:]], dim=1)
        else:
            looped = torch.cat([looped, following], dim=1)
    return looped[:, :frames]


def _smoothed_db(levels: torch.Tensor, width: int) -> torch.Tensor:
    """Levels [2, T] in dB averaged as power over ``width`` frames around each frame."""
    power = torch.pow(10.0, levels / 10.0)[:, None]
    padded = torch.nn.functional.pad(power, (width // 2, width - 1 - width // 2), mode="replicate")
    kernel = torch.full((1, 1, width), 1.0 / width, dtype=power.dtype, device=power.device)
    mean = torch.nn.functional.conv1d(padded, kernel)[:, 0]
    return 10.0 * torch.log10(mean + 1e-12)


def start_point(noise: torch.Tensor, layout: torch.Tensor, likeness: float) -> torch.Tensor:
    """Where the second pass starts: the flow's x_t at t = ``likeness`` between ``noise`` and ``layout``."""
    if not 0.0 < likeness <= 1.0:
        raise ValueError(f"reference likeness must be in (0, 1], got {likeness}")
    return (1.0 - likeness) * noise + likeness * layout
