"""Griffin-Lim's options for the analytic codec: band-envelope projection, peak bound, energy finish."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from foleystudio.audio.truepeak import true_peak_dbtp
from foleystudio.engine.codec import SMALL_ANALYTIC_CODEC, AnalyticCodec, AnalyticCodecConfig
from foleystudio.engine.codec.griffinlim import BandEnvelopes, clip_to_local_rms
from foleystudio.engine.config_io import config_from_dict, config_to_dict
from foleystudio.errors import UserInputError

RATE = 44100


@pytest.fixture(scope="module")
def codec():
    return AnalyticCodec(SMALL_ANALYTIC_CODEC)


def band_means(codec, spec: torch.Tensor) -> torch.Tensor:
    power = (spec.real.square() + spec.imag.square()).transpose(-1, -2)
    return power @ codec.filterbank / codec.band_widths


def noisy_spectrum(codec, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    wave = torch.randn(1, 2, 16 * 512, generator=generator) * torch.linspace(0.05, 1.0, 16 * 512)
    return codec.framing.analyse(wave)


def test_band_projection_moves_band_means_to_the_target_and_keeps_phase_and_fine_structure(codec):
    target = noisy_spectrum(codec, 0)
    magnitude = codec.decoded_magnitude(codec._to_latent(band_means(codec, target) * codec._power_scale))
    projection = BandEnvelopes(magnitude, codec.filterbank, codec.band_widths)
    other = noisy_spectrum(codec, 1) * torch.linspace(2.0, 0.1, 1025)[:, None]  # another tilt, another level
    projected = projection.project(other)

    def band_error_db(spec):
        return (10 * torch.log10(band_means(codec, spec) / band_means(codec, target))).abs().mean().item()

    assert band_error_db(other) > 3.0
    # One projection takes most of the way (4.98 -> 0.74 dB measured): the spread ratio is not exact within a band.
    assert band_error_db(projected) < 0.25 * band_error_db(other)
    torch.testing.assert_close(torch.angle(projected), torch.angle(other), rtol=0, atol=1e-4)
    assert not torch.allclose(projected.abs(), magnitude, rtol=0.1)  # not flattened to the triangles' spread
    # Repeated, it converges; a spectrum whose band means are the target's is left as it is.
    settled = projected
    for _ in range(20):
        settled = projection.project(settled)
    assert band_error_db(settled) < 0.05
    torch.testing.assert_close(projection.project(target), target, rtol=1e-3, atol=1e-6)


def test_the_peak_bound_clips_spikes_and_leaves_a_sine_and_silence_alone():
    hop = 512
    t = np.arange(64 * hop) / RATE
    sine = torch.from_numpy((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))[None, None]
    # A sine's peak is sqrt(2) x its RMS: under a 2 x RMS bound it passes untouched.
    torch.testing.assert_close(clip_to_local_rms(sine, 2.0, hop), sine, rtol=0, atol=0)
    spiky = torch.zeros(1, 2, 64 * hop)
    spiky[:, :, 10 * hop : 50 * hop] = 0.01 * torch.randn(2, 40 * hop, generator=torch.Generator().manual_seed(3))
    spiky[:, :, 30 * hop] = 0.9  # one spike, 40 dB over the noise around it
    clipped = clip_to_local_rms(spiky, 2.0, hop)
    assert clipped[0, 0, 30 * hop].item() < 0.2
    assert torch.all(clipped[:, :, : 9 * hop] == 0) and torch.all(clipped[:, :, 51 * hop :] == 0)
    untouched = (clipped == spiky).float().mean().item()
    assert untouched > 0.9  # Gaussian noise rarely exceeds 2 x RMS: most samples pass as they are


def test_the_peak_bound_is_exact_on_long_quiet_audio_after_loud_audio():
    # Running sums over hours of float32 audio would lose a quiet passage after a loud one; the
    # bound is built from per-hop energies, so the quiet end is clipped relative to itself.
    hop = 512
    generator = torch.Generator().manual_seed(4)
    loud = torch.randn(1, 1, 4000 * hop, generator=generator)
    quiet = 1e-4 * torch.randn(1, 1, 200 * hop, generator=generator)
    clipped = clip_to_local_rms(torch.cat([loud, quiet], dim=-1), 2.0, hop)[..., 4000 * hop :]
    kept = (clipped == quiet).float().mean().item()
    assert 0.9 < kept < 1.0
    assert clipped[..., 2 * hop :].abs().max() <= 2.0 * 1.1e-4 * 1.5


def dense_noise(seconds=2.5) -> torch.Tensor:
    generator = torch.Generator().manual_seed(5)
    return (0.1 * torch.randn(1, 2, int(seconds * RATE), generator=generator)).clamp(-0.2, 0.2)


def crest_db(wave: torch.Tensor) -> float:
    audio = wave[0].numpy()
    return true_peak_dbtp(audio, RATE) - 10 * np.log10(np.mean(audio.astype(np.float64) ** 2))


def test_the_peak_bound_decodes_dense_noise_less_spiky_with_the_same_band_powers():
    # White noise clipped at 2 sigma has a crest of about 6 dB; plain Griffin-Lim decodes it with a
    # Gaussian's peaks (measured 13.2 dB), the bounded decode with 10.2 dB; both keep the band powers.
    plain = AnalyticCodec(dataclasses.replace(SMALL_ANALYTIC_CODEC, griffin_lim_peak_clip=0.0))
    bounded = AnalyticCodec(SMALL_ANALYTIC_CODEC)
    wave = dense_noise()
    latent = bounded.encode(wave)
    plain_wave, bounded_wave = plain.decode(latent), bounded.decode(latent)
    assert crest_db(bounded_wave) < crest_db(plain_wave) - 2.0
    for decoded in (plain_wave, bounded_wave):
        error_db = (bounded.encode(decoded) - latent)[..., 2:-2] * SMALL_ANALYTIC_CODEC.scale_db
        assert error_db.mean().abs().item() < 0.1 and error_db.abs().mean().item() < 1.5


@pytest.mark.parametrize(("projection", "keep_loudness"), [("bins", False), ("bands", False), ("bins", True)])
def test_a_chunked_decode_equals_the_whole_one_with_either_projection(projection, keep_loudness):
    config = dataclasses.replace(SMALL_ANALYTIC_CODEC, griffin_lim_projection=projection,
                                 griffin_lim_keep_loudness=keep_loudness)
    codec = AnalyticCodec(config)
    assert chunked_decode_error(codec, codec.encode(dense_noise(4.0))) < 1e-4


def chunked_decode_error(codec: AnalyticCodec, latent: torch.Tensor) -> float:
    """RMS of a chunked decode (24-frame chunks) minus the whole one, relative to the whole one's RMS."""
    with torch.no_grad():
        whole = codec.decode(latent)
        chunked = codec.decode_long(latent, chunk_frames=24)
    return ((chunked - whole).square().mean().sqrt() / whole.square().mean().sqrt()).item()


def test_projection_and_peak_bound_are_checked():
    with pytest.raises(UserInputError, match="griffin_lim_projection"):
        AnalyticCodecConfig(griffin_lim_projection="bandz")
    with pytest.raises(UserInputError, match="griffin_lim_peak_clip"):
        AnalyticCodecConfig(griffin_lim_peak_clip=0.5)
    with pytest.raises(UserInputError, match="griffin_lim_peak_clip"):
        AnalyticCodecConfig(griffin_lim_peak_clip=-1.0)


def test_a_model_folder_written_before_the_options_decodes_as_before():
    written = config_to_dict(AnalyticCodecConfig())
    del written["griffin_lim_projection"], written["griffin_lim_peak_clip"]
    read = config_from_dict(AnalyticCodecConfig, written)
    assert (read.griffin_lim_projection, read.griffin_lim_peak_clip) == ("bins", 0.0)
    assert (SMALL_ANALYTIC_CODEC.griffin_lim_projection, SMALL_ANALYTIC_CODEC.griffin_lim_peak_clip) == ("bands", 2.0)


def footstep_bursts(seconds: float = 3.0) -> torch.Tensor:
    """Short decaying noise bursts over a quiet bed, alternating sides: transients that Griffin-Lim's
    synthesis loses energy on, by how much depending on the burst."""
    generator = torch.Generator().manual_seed(6)
    samples = int(seconds * RATE)
    wave = 0.003 * torch.randn(1, 2, samples, generator=generator)
    decay = torch.exp(-torch.arange(4000) / 600.0)
    for index, start in enumerate(range(2000, samples - 4000, 11025)):
        burst = 0.5 * torch.randn(4000, generator=generator) * decay
        wave[0, index % 2, start : start + 4000] += burst
        wave[0, 1 - index % 2, start : start + 4000] += 0.3 * burst
    return wave


def curve_error_lu(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    from foleystudio.engine.codec.metrics import loudness_curve_error_lu

    return loudness_curve_error_lu(reference[0].numpy(), estimate[0].numpy(), RATE)


def test_keeping_loudness_brings_each_frame_back_to_the_latent_and_the_curve_closer():
    bins = dataclasses.replace(SMALL_ANALYTIC_CODEC, griffin_lim_projection="bins")
    plain, kept = AnalyticCodec(bins), AnalyticCodec(dataclasses.replace(bins, griffin_lim_keep_loudness=True))
    wave = footstep_bursts()
    latent = plain.encode(wave)
    with torch.no_grad():
        plain_wave, kept_wave = plain.decode(latent), kept.decode(latent)
        wanted = kept.decoded_magnitude(latent).square().transpose(-1, -2)
        window = 34  # 400 ms of 512-sample hops

        def frame_error_lu(decoded):
            difference = (kept.window_loudness_lufs(kept.spectrum_power(decoded), window)
                          - kept.window_loudness_lufs(wanted * kept._power_scale, window))
            return difference[..., 2:-2].abs().mean().item()

        # Measured: 0.18 LU off (too quiet) what the imposed magnitude says without, 0.05 with.
        assert frame_error_lu(plain_wave) > 0.12
        assert frame_error_lu(kept_wave) < 0.4 * frame_error_lu(plain_wave)
    # Against the recording's own loudness curve (the codec bench's measure): 0.17 -> 0.11 LU.
    assert curve_error_lu(wave, kept_wave) < curve_error_lu(wave, plain_wave) - 0.03
    # It is a positive gain: no sample changes sign, so the phase Griffin-Lim found is kept.
    assert bool((kept_wave * plain_wave >= 0).all())


def test_keeping_loudness_is_checked_and_absent_from_old_folders():
    with pytest.raises(UserInputError, match="griffin_lim_keep_loudness needs"):
        AnalyticCodecConfig(griffin_lim_projection="bands", griffin_lim_keep_loudness=True)
    with pytest.raises(UserInputError, match="true or false"):
        AnalyticCodecConfig(griffin_lim_keep_loudness="yes")
    written = config_to_dict(AnalyticCodecConfig(griffin_lim_keep_loudness=True))
    assert written["griffin_lim_keep_loudness"] is True
    del written["griffin_lim_keep_loudness"]
    assert config_from_dict(AnalyticCodecConfig, written).griffin_lim_keep_loudness is False


def test_window_loudness_from_bin_powers_reads_as_the_loudness_meter_does():
    from foleystudio.audio.loudness import loudness_curve

    codec = AnalyticCodec(SMALL_ANALYTIC_CODEC)
    generator = torch.Generator().manual_seed(8)
    t = torch.arange(3 * RATE) / RATE
    noise = 0.05 * torch.randn(3 * RATE, generator=generator)
    wave = torch.stack([noise, 0.1 * torch.sin(2 * math.pi * 997 * t) + 0.2 * torch.sin(2 * math.pi * 60 * t)])
    samples = wave.shape[-1] // 512 * 512
    wave = wave[:, :samples][None].float()
    windows = codec.window_loudness_lufs(codec.spectrum_power(wave), 34)[0]  # 400 ms of 512-sample hops
    curve = loudness_curve(wave[0].numpy(), RATE)
    for channel, meter in enumerate((curve.left, curve.right)):
        assert abs(windows[channel, 5:-5].median().item() - float(np.median(meter[3:-3]))) < 0.1
    # Loudness is a log of power: 10 dB more power is 10 LU more, exactly.
    louder = codec.window_loudness_lufs(codec.spectrum_power(wave) * 10.0, 34)[0]
    torch.testing.assert_close(louder - windows, torch.full_like(windows, 10.0), rtol=0, atol=1e-4)
