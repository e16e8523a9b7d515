"""LUFS predictor: shapes, masking, the loss, training on a toy task, and curves predicted from videos."""

import numpy as np
import pytest
import torch

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.engine.lufs_predictor import (
    BASE_LUFS_PREDICTOR,
    SMALL_LUFS_PREDICTOR,
    TINY_LUFS_PREDICTOR,
    LufsPredictor,
    LufsPredictorConfig,
    _Crossfade,
    curve_targets,
    denormalise_lufs,
    lufs_loss,
    normalise_lufs,
    predict_curve,
)
from foleystudio.engine.video_features import video_inputs, window_starts
from foleystudio.errors import MediaError, UserInputError
from foleystudio.video.motion import MOTION_CHANNELS
from tests.media import make_audio, make_video

TINY_SIZE = TINY_LUFS_PREDICTOR.encoder.frame_size


def _seeded_predictor(config: LufsPredictorConfig = TINY_LUFS_PREDICTOR, seed: int = 0) -> LufsPredictor:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return LufsPredictor(config)


def _random_frames(batch: int, count: int, seed: int = 0, size: int = TINY_SIZE) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, count, size, size, 3), dtype=torch.uint8, generator=generator)


def _brightness_task(generator: torch.Generator, batch: int = 8, count: int = 12):
    """Frames with a square on the left and one on the right whose brightness sets that channel's loudness."""
    left = torch.rand(batch, count, generator=generator)
    right = torch.rand(batch, count, generator=generator)
    frames = torch.full((batch, count, TINY_SIZE, TINY_SIZE, 3), 20, dtype=torch.uint8)
    frames[:, :, 8:24, 2:12] = (20 + 235 * left).to(torch.uint8)[..., None, None, None]
    frames[:, :, 8:24, 20:30] = (20 + 235 * right).to(torch.uint8)[..., None, None, None]
    return frames, torch.stack([-70 + 60 * left, -70 + 60 * right], dim=-1)


# ---- model -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch, count", [(1, 1), (2, 7), (3, 12), (1, 40)])
def test_predictor_gives_left_and_right_values_in_range_for_any_length(batch, count):
    predictor = _seeded_predictor().eval()
    with torch.no_grad():
        predicted = predictor(_random_frames(batch, count))
    assert predicted.shape == (batch, count, 2)
    assert torch.all((predicted >= 0) & (predicted <= 1))


def test_padding_frames_do_not_change_predictions_for_real_frames():
    predictor = _seeded_predictor().eval()
    frames = _random_frames(1, 6, seed=1)
    padded = torch.cat([frames, _random_frames(1, 4, seed=2)], dim=1)
    mask = torch.tensor([[True] * 6 + [False] * 4])
    motion_padded = torch.rand(1, 10, MOTION_CHANNELS)
    with torch.no_grad():
        alone = predictor(frames, motion_padded[:, :6])
        with_padding = predictor(padded, motion_padded, mask)
        unmasked = predictor(padded, motion_padded)
    torch.testing.assert_close(with_padding[:, :6], alone, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(unmasked[:, :6], alone, atol=1e-4)  # without the mask padding would leak in


def test_predictor_is_deterministic_for_a_seed_and_uses_motion():
    frames = _random_frames(2, 5, seed=3)
    with torch.no_grad():
        first = _seeded_predictor(seed=4).eval()(frames)
        again = _seeded_predictor(seed=4).eval()(frames)
        still = _seeded_predictor(seed=4).eval()(frames, torch.zeros(2, 5, MOTION_CHANNELS))
    assert torch.equal(first, again)
    assert not torch.allclose(first, still)


def test_normalisation_matches_the_lufs_embedding_scale():
    lufs = torch.tensor([-float("inf"), -90.0, -70.0, -35.0, 0.0, 6.0])
    torch.testing.assert_close(normalise_lufs(lufs), torch.tensor([0.0, 0.0, 0.0, 0.5, 1.0, 1.0]))
    np.testing.assert_allclose(normalise_lufs(np.array([-70.0, -14.0])), [0.0, 0.8])
    torch.testing.assert_close(denormalise_lufs(torch.tensor([0.0, 0.5, 1.0])), torch.tensor([-70.0, -35.0, 0.0]))


def test_presets_build_with_plausible_sizes():
    counts = {}
    for name, config in (("tiny", TINY_LUFS_PREDICTOR), ("small", SMALL_LUFS_PREDICTOR)):
        counts[name] = sum(p.numel() for p in _seeded_predictor(config).parameters())
    assert counts["tiny"] < 50_000 < 1_000_000 < counts["small"] < 20_000_000
    assert LufsPredictorConfig.from_dict(BASE_LUFS_PREDICTOR.to_dict()) == BASE_LUFS_PREDICTOR
    assert (BASE_LUFS_PREDICTOR.layers, BASE_LUFS_PREDICTOR.heads, BASE_LUFS_PREDICTOR.width) == (12, 8, 768)
    assert SMALL_LUFS_PREDICTOR.max_frames == 360  # 60 s at 6 fps


def test_config_values_are_checked():
    with pytest.raises(UserInputError, match="not divisible"):
        LufsPredictorConfig(width=30, heads=4)
    with pytest.raises(UserInputError, match="overlap"):
        LufsPredictorConfig(max_frames=12, overlap_frames=12)
    with pytest.raises(UserInputError, match="layers"):
        LufsPredictorConfig(layers=0)
    with pytest.raises(UserInputError, match="LUFS predictor config"):
        LufsPredictorConfig.from_dict({"width": 32})


# ---- loss and training ----------------------------------------------------------------------------


def test_loss_is_the_masked_mean_absolute_error_on_the_normalised_scale():
    predictor = _seeded_predictor().eval()
    frames = _random_frames(2, 5, seed=5)
    targets = torch.full((2, 5, 2), -35.0)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    with torch.no_grad():
        predicted = predictor(frames, mask=mask)
        loss = lufs_loss(predictor, frames, targets, mask)
        changed = targets.clone()
        changed[1, 2:] = 0.0  # only padded frames change
        loss_changed = lufs_loss(predictor, frames, changed, mask)
    expected = torch.cat([(predicted[0] - 0.5).abs().flatten(), (predicted[1, :2] - 0.5).abs().flatten()]).mean()
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(loss_changed, loss)
    with pytest.raises(ValueError, match="real"):
        lufs_loss(predictor, frames, targets, torch.zeros((2, 5), dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\[B, T, 2\]"):
        lufs_loss(predictor, frames, targets[:, :4])


@pytest.fixture
def one_thread():
    """Tiny models are overhead-bound: one thread is faster, and far faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_predictor_learns_a_toy_brightness_to_loudness_task(one_thread):
    predictor = _seeded_predictor(seed=0)
    optimiser = torch.optim.Adam(predictor.parameters(), lr=5e-3)
    generator = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(100):
        frames, targets = _brightness_task(generator, batch=4)
        loss = lufs_loss(predictor, frames, targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    frames, targets = _brightness_task(torch.Generator().manual_seed(99))
    predictor.eval()
    with torch.no_grad():
        error_lu = (denormalise_lufs(predictor(frames)) - targets).abs().mean().item()
    first, last = np.mean(losses[:10]), np.mean(losses[-20:])
    assert last < 0.3 * first, (first, last)
    assert error_lu < 4.0  # a constant guess would be off by about 15 LU


def test_curve_targets_pad_and_mask():
    short = LoudnessCurve.uniform([-20.0, -30.0], [-25.0, -35.0])
    long = LoudnessCurve.uniform(np.full(8, -40.0), np.full(8, -45.0))
    slow = LoudnessCurve.uniform([-10.0, -10.0], [-12.0, -12.0], rate_hz=3.0)  # resampled to 6 Hz
    targets, mask = curve_targets([short, long, slow], 4)
    assert targets.shape == (3, 4, 2) and mask.tolist() == [[True, True, False, False], [True] * 4, [True] * 4]
    assert targets[0, :2].tolist() == [[-20.0, -25.0], [-30.0, -35.0]]
    assert torch.all(targets[0, 2:] == -70.0)
    torch.testing.assert_close(targets[2], torch.tensor([[-10.0, -12.0]] * 4))


# ---- predicting a curve from a video -------------------------------------------------------------


def test_crossfade_blends_windows_into_one_continuous_curve():
    total, window, overlap = 30, 12, 4
    truth = np.stack([np.linspace(0, 1, total), np.linspace(1, 0, total)], axis=1)
    starts = window_starts(total, window, overlap)
    exact, offset = _Crossfade(total, starts, window), _Crossfade(total, starts, window)
    for index, start in enumerate(starts):
        exact.add(start, truth[start : start + window])
        offset.add(start, np.full((window, 2), float(index)))  # each window disagrees with the last
    np.testing.assert_allclose(exact.result(), truth)
    stitched = offset.result()[:, 0]
    assert stitched[0] == 0 and stitched[-1] == len(starts) - 1
    # Monotone, in small steps (a hard switch between windows would step by 1 here).
    assert np.all(np.diff(stitched) >= 0) and np.max(np.diff(stitched)) <= 2 / (overlap + 1) + 1e-9


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "short": make_video(folder / "short.mp4", seconds=2.5, fps=24, size=(64, 48)),
        "long": make_video(folder / "long.mp4", seconds=5.0, fps=12, size=(64, 48)),
    }


def test_predict_curve_of_a_short_video(clips):
    predictor = _seeded_predictor()
    predictor.train()
    curve = predict_curve(predictor, clips["short"])
    assert isinstance(curve, LoudnessCurve) and len(curve) == 15  # 2.5 s at 6 Hz
    np.testing.assert_allclose(curve.times, np.arange(15) / 6)
    assert np.all((curve.left >= -70) & (curve.left <= 0) & (curve.right >= -70) & (curve.right <= 0))
    assert np.ptp(curve.left) > 0  # follows the frames, not a constant
    assert predictor.training  # mode restored
    # The curve of a span starts at 0 and matches the model run on that span's frames.
    part = predict_curve(predictor, clips["short"], start_s=1.0, duration_s=1.0)
    inputs = video_inputs(clips["short"], 1.0, 1.0, fps=6, size=TINY_SIZE)
    predictor.eval()
    with torch.no_grad():
        direct = denormalise_lufs(predictor(*inputs.tensors())[0]).numpy()
    np.testing.assert_allclose(part.times, np.arange(6) / 6)
    np.testing.assert_allclose(part.left, np.maximum(direct[:, 0], -70), rtol=1e-5, atol=1e-4)


def test_predict_curve_runs_long_videos_in_crossfaded_windows(clips):
    predictor = _seeded_predictor(seed=2).eval()
    config = predictor.config
    curve = predict_curve(predictor, clips["long"])
    assert len(curve) == 30 > config.max_frames  # 5 s at 6 Hz; the tiny window is 12 frames
    np.testing.assert_allclose(curve.times, np.arange(30) / 6)
    assert np.all((curve.left >= -70) & (curve.left <= 0))
    starts = window_starts(30, config.max_frames, config.overlap_frames)
    assert len(starts) > 2
    # Frames that only the first window covers are exactly that window's prediction.
    first = video_inputs(clips["long"], 0.0, config.max_frames / 6, fps=6, size=TINY_SIZE)
    with torch.no_grad():
        direct = denormalise_lufs(predictor(*first.tensors())[0]).numpy()
    solo = starts[1]
    np.testing.assert_allclose(curve.left[:solo], np.maximum(direct[:solo, 0], -70), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(curve.right[:solo], np.maximum(direct[:solo, 1], -70), rtol=1e-5, atol=1e-4)


def test_predict_curve_refuses_bad_input(tmp_path, clips):
    predictor = _seeded_predictor()
    audio = make_audio(tmp_path / "voice.wav", seconds=1.0)
    with pytest.raises(MediaError, match="voice.wav has no video stream"):
        predict_curve(predictor, audio)
    with pytest.raises(UserInputError, match="start 9.000 s is not before the end"):
        predict_curve(predictor, clips["short"], start_s=9.0)
    with pytest.raises(UserInputError, match="duration must be positive"):
        predict_curve(predictor, clips["short"], duration_s=0.0)
    with pytest.raises(UserInputError, match="unknown device"):
        predict_curve(predictor, clips["short"], device="tpu")
