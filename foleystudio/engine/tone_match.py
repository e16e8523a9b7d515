"""Tone matching: a take is given its reference sound's spectral balance, with its loudness kept.

Why: the bundled generator follows the picture and the loudness curve but not the reference's
timbre. Its footsteps for "footsteps on a wooden floor, leather shoes" sat 23-28 dB under their
reference ("leather footsteps", from the model's bank) at 0.7-3 kHz, against their loudest band: a
dull thump where the recording has a click and a scuff; its door slam had its energy at 0.3-2 kHz
where the reference door's is below 100 Hz. A sound designer fixes that with an EQ match against
the reference; a model whose config asks for it (``tone_match`` > 0) does it before decoding.
foley-small leaves it off: at strength 1 its demo takes came closer to their categories, but on
the held-out clips the raw curve error rose and the text test failed (MODEL_CARD.md, "Why the
demo's takes are not their reference's sound, and the fixes that failed").

How: the analytic codec's latent is each mel band's level in dB per STFT frame, so an equaliser is
one addition per band. The take's and the reference's shapes are measured the same way: each
frame's band levels against its own loudest band (so level does not count), averaged over the
frames within ``ACTIVE_DB`` of the sound's loudest (so silence does not count), both channels
together. The take's bands move by ``strength`` times the difference (0: off, 1: the reference's
shape), each band by at most ``MAX_CHANGE_DB`` from the bands' mean move; then every frame of each
channel is moved back to its loudness before the change (`AnalyticCodec.latent_loudness_lufs` /
`shift_loudness`), so the curve the generator followed and the picture's timing stay as they were
(as the latent measures loudness: decoded, the held-out takes' curve error still rose). A long
take's bands move by what its first window measured, so the tone does not change from window to
window.
"""

from __future__ import annotations

import torch

from foleystudio.engine.codec.analytic import latent_band_levels_db

ACTIVE_DB = 20.0
MAX_CHANGE_DB = 24.0


def band_shape_db(latent: torch.Tensor, config) -> torch.Tensor:
    """Each item's level-free spectral shape [N, n_mels], in dB under a frame's loudest band: the
    mean over the frames within ``ACTIVE_DB`` of the item's loudest, channels averaged."""
    levels = latent_band_levels_db(latent, config).mean(dim=1)  # [N, frames, mels]
    loudest_band = levels.amax(dim=-1, keepdim=True)
    relative = levels - loudest_band
    active = (loudest_band >= loudest_band.amax(dim=1, keepdim=True) - ACTIVE_DB).float()
    return (relative * active).sum(dim=1) / active.sum(dim=1)


class ToneMatch:
    """Moves latents [N, C, T] towards a reference's shape; the change is fixed by the first call."""

    def __init__(self, codec, reference_latent: torch.Tensor, strength: float) -> None:
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"tone match strength must be in [0, 1], got {strength}")
        self.codec = codec
        self.strength = strength
        self.reference_shape = band_shape_db(reference_latent.float()[None], codec.config)[0]
        self.change_db: torch.Tensor | None = None  # [N, n_mels], set by the first call

    def __call__(self, latent: torch.Tensor) -> torch.Tensor:
        config = self.codec.config
        if self.change_db is None:
            change = self.strength * (self.reference_shape.to(latent.device) - band_shape_db(latent, config))
            # Centred first: a shape has no level, and the loudness is put back after.
            change = change - change.mean(dim=-1, keepdim=True)
            self.change_db = change.clamp(-MAX_CHANGE_DB, MAX_CHANGE_DB)
        batch, channels, frames = latent.shape
        per_band = self.change_db.to(latent.device) / config.scale_db  # [N, mels] in latent units
        stacked = latent.float().reshape(batch, 2, config.frames_per_latent, config.n_mels, frames)
        changed = (stacked + per_band[:, None, None, :, None]).reshape(batch, channels, frames)
        lift = self.codec.latent_loudness_lufs(latent.float()) - self.codec.latent_loudness_lufs(changed)
        return self.codec.shift_loudness(changed, lift).to(latent.dtype)
