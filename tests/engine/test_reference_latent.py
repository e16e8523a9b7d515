"""Reference sounds read as the codec's latent (``ref_reads_latent``): the unstacked log-mel, the
conditioner path, the condition inputs and the pipeline's encoding of a user's reference."""

import dataclasses

import pytest
import torch

from foleystudio.engine.builder import build_engine
from foleystudio.engine.conditioners import TINY_CONDITIONERS, ConditionerConfig, ConditionRow, Conditioners
from foleystudio.engine.conditions import ConditionInputs
from foleystudio.engine.config import TINY
from foleystudio.engine.pipeline import condition_inputs
from foleystudio.engine.request import GenerationRequest
from foleystudio.errors import UserInputError
from tests.media import make_audio

WIDTH = 32
RATE = 44100 / 2048
LATENT_CONDITIONERS = dataclasses.replace(TINY_CONDITIONERS, ref_reads_latent=True)


def latent_engine():
    generator = dataclasses.replace(TINY.generator, conditioners=LATENT_CONDITIONERS)
    return build_engine(dataclasses.replace(TINY, generator=generator))


def conditioners(config=LATENT_CONDITIONERS) -> Conditioners:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return Conditioners(config, WIDTH, latent_channels=64).eval()


def test_a_latent_unstacks_into_each_channels_bands_per_stft_frame():
    codec = build_engine(TINY).codec
    wave = torch.randn(1, 2, 44100, generator=torch.Generator().manual_seed(0)) * 0.1
    wave[:, 1] *= 0.1  # the right channel 20 dB down, so a channel swap would show
    latent = codec.encode(wave)[0]
    cfg = codec.config
    band_db = 10 * torch.log10(codec.band_power(codec.padded(wave)).clamp_min(10 ** (cfg.floor_db / 10)))
    expected = ((band_db - cfg.offset_db) / cfg.scale_db)[0]  # [2, stft frames, n_mels]
    unstacked = conditioners().reference_audio.latent_log_mel(latent, codec.latent_rate)
    frames = unstacked.shape[1]
    assert unstacked.shape == (2 * cfg.n_mels, latent.shape[1] * cfg.frames_per_latent)
    torch.testing.assert_close(unstacked.reshape(2, cfg.n_mels, frames), expected[:, :frames].transpose(1, 2),
                               atol=1e-4, rtol=0)


def test_latent_references_give_fixed_tokens_and_only_their_first_seconds_count():
    encoder = conditioners().reference_audio
    channels = 2 * LATENT_CONDITIONERS.ref_n_mels * 2
    generator = torch.Generator().manual_seed(1)
    long = torch.randn(channels, int(12 * RATE) + 5, generator=generator)
    with torch.no_grad():
        tokens = encoder.encode_latents([long[:, :7], long], RATE)
        first_ten = encoder.encode_latents([long[:, : int(10 * RATE)]], RATE)
    assert tokens.shape == (2, LATENT_CONDITIONERS.ref_tokens, WIDTH) and torch.isfinite(tokens).all()
    torch.testing.assert_close(tokens[1], first_ten[0], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="reference latent"):
        encoder.latent_log_mel(torch.zeros(channels + 1, 4), RATE)


def test_the_conditioner_reads_the_latent_and_refuses_the_other_kind():
    latent_reader, wave_reader = conditioners(), conditioners(TINY_CONDITIONERS)
    generator = torch.Generator().manual_seed(2)
    latent = torch.randn(64, 30, generator=generator)
    one = ConditionInputs(total_s=1.0, reference_latent=latent)
    other = ConditionInputs(total_s=1.0, reference_latent=latent + 0.5)
    none = ConditionInputs(total_s=1.0)
    assert one.present == frozenset({"audio"})
    with torch.no_grad():
        encoded = [latent_reader.encode([ConditionRow(inputs, inputs.present)], 22, RATE) for inputs in (one, other, none)]
    assert encoded[0].tokens.shape[1] == encoded[2].tokens.shape[1] + LATENT_CONDITIONERS.ref_tokens
    assert not torch.allclose(encoded[0].tokens, encoded[1].tokens)
    with pytest.raises(UserInputError, match="as a waveform"):
        wave_reader.encode([ConditionRow(one, one.present)], 22, RATE)
    wave = ConditionInputs(total_s=1.0, reference_audio=torch.zeros(2, 4410))
    with pytest.raises(UserInputError, match="codec's latent"):
        latent_reader.encode([ConditionRow(wave, wave.present)], 22, RATE)


def test_a_bad_reference_latent_or_flag_is_refused():
    with pytest.raises(UserInputError, match="reference latent"):
        ConditionInputs(total_s=1.0, reference_latent=torch.zeros(64))
    with pytest.raises(ValueError, match="ref_reads_latent"):
        ConditionerConfig(ref_reads_latent=1)


def test_the_pipeline_encodes_a_users_reference_with_the_codec(tmp_path):
    engine = latent_engine()
    reference = make_audio(tmp_path / "ref.wav", seconds=1.0, rate=44100)
    inputs = condition_inputs(engine, GenerationRequest(duration_s=1.0, reference_audio=reference))
    assert inputs.reference_audio is None
    assert inputs.reference_latent.shape == (engine.codec.latent_channels, engine.codec.latent_frames(44100))
    plain = condition_inputs(build_engine(TINY), GenerationRequest(duration_s=1.0, reference_audio=reference))
    assert plain.reference_latent is None and plain.reference_audio.shape == (2, 44100)


def test_the_reference_shape_is_level_free_starts_at_zero_and_reaches_only_rows_with_a_reference():
    from foleystudio.engine.conditioners.reference_shape import ReferenceShape

    log_mel = torch.randn(2 * 16, 40, generator=torch.Generator().manual_seed(4))
    features = ReferenceShape.features(log_mel)
    assert features.shape == (4 * 16,)
    torch.testing.assert_close(ReferenceShape.features(log_mel + 0.7), features)  # louder, same shape
    reader = conditioners()
    latent = torch.randn(64, 30, generator=torch.Generator().manual_seed(5))
    rows = [ConditionRow(ConditionInputs(total_s=1.0, reference_latent=latent), frozenset({"audio"})),
            ConditionRow(ConditionInputs(total_s=1.0), frozenset())]
    with torch.no_grad():
        untrained = reader.encode(rows, 22, RATE)
        assert untrained.output_bias is not None and not untrained.output_bias.any()  # zero until trained
        for parameter in reader.reference_shape.parameters():
            parameter.fill_(0.01)
        trained = reader.encode(rows, 22, RATE)
    assert trained.output_bias[0].abs().min() > 0 and not trained.output_bias[1].any()
    assert not torch.allclose(trained.globals[0], untrained.globals[0])
    torch.testing.assert_close(trained.globals[1], untrained.globals[1])
