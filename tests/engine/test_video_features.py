"""Video features: the frame encoder, motion energy, reading a span of a video, time alignment."""

import numpy as np
import pytest
import torch

from foleystudio.engine.video_features import (
    BASE_FRAME_ENCODER,
    SMALL_FRAME_ENCODER,
    TINY_FRAME_ENCODER,
    FrameEncoder,
    FrameEncoderConfig,
    iter_video_windows,
    resample_to_frames,
    video_inputs,
    window_starts,
)
from foleystudio.errors import MediaError, UserInputError
from foleystudio.video.motion import MOTION_CHANNELS, motion_energy
from tests.media import make_audio, make_video, make_video_from_images

LEFT, CENTRE, RIGHT, WHOLE, LUMA_CHANGE = range(5)


def _seeded_encoder(config: FrameEncoderConfig, seed: int = 0) -> FrameEncoder:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return FrameEncoder(config).eval()


def _scene(count: int, size: int = 48, square_x=None, square_y=None, background: int = 60) -> np.ndarray:
    """``count`` grey frames with a white square whose top-left corner is (square_x[k], square_y[k])."""
    frames = np.full((count, size, size, 3), background, np.uint8)
    side = size // 6
    for k in range(count):
        if square_x is not None:
            x, y = square_x[k], square_y[k]
            frames[k, y : y + side, x : x + side] = 255
    return frames


def _jump_at(count: int, frame: int, before: int, after: int) -> list[int]:
    return [before if k < frame else after for k in range(count)]


# ---- frame encoder ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "batch, count, height, width", [(1, 1, 32, 32), (2, 5, 32, 32), (3, 17, 24, 40), (1, 4, 64, 64)]
)
def test_frame_encoder_gives_one_feature_vector_per_frame(batch, count, height, width):
    encoder = _seeded_encoder(TINY_FRAME_ENCODER)
    frames = torch.randint(0, 256, (batch, count, height, width, 3), dtype=torch.uint8)
    with torch.no_grad():
        features = encoder(frames)
    assert features.shape == (batch, count, TINY_FRAME_ENCODER.feature_dim)
    assert torch.isfinite(features).all()
    assert features.std() > 0.1  # LayerNorm output: not collapsed to a constant


def test_frame_encoder_frames_are_independent_and_passes_do_not_change_results():
    encoder = _seeded_encoder(TINY_FRAME_ENCODER)
    frames = torch.randint(0, 256, (2, 6, 32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole = encoder(frames)
        in_passes = encoder(frames, frames_per_pass=5)
        one_frame = encoder(frames[1:, 3:4])
    torch.testing.assert_close(in_passes, whole, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(one_frame[0, 0], whole[1, 3], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(whole[0, 0], whole[0, 1])


def test_frame_encoder_reads_uint8_and_unit_float_alike():
    encoder = _seeded_encoder(TINY_FRAME_ENCODER)
    frames = torch.randint(0, 256, (1, 3, 32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(encoder(frames.float() / 255.0), encoder(frames), rtol=1e-5, atol=1e-5)


def test_frame_encoder_is_deterministic_for_a_seed():
    frames = torch.randint(0, 256, (1, 4, 32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        first = _seeded_encoder(TINY_FRAME_ENCODER, seed=7)(frames)
        again = _seeded_encoder(TINY_FRAME_ENCODER, seed=7)(frames)
        other = _seeded_encoder(TINY_FRAME_ENCODER, seed=8)(frames)
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)


def test_frame_encoder_gradients_reach_the_first_layer():
    encoder = FrameEncoder(TINY_FRAME_ENCODER)
    frames = torch.randint(0, 256, (2, 3, 32, 32, 3), dtype=torch.uint8)
    encoder(frames).pow(2).sum().backward()
    assert encoder.trunk[0].weight.grad is not None and encoder.trunk[0].weight.grad.abs().sum() > 0


def test_frame_encoder_rejects_frames_of_the_wrong_shape():
    encoder = FrameEncoder(TINY_FRAME_ENCODER)
    with pytest.raises(ValueError, match=r"\[B, T, H, W, 3\]"):
        encoder(torch.zeros((4, 32, 32, 3), dtype=torch.uint8))


@pytest.mark.parametrize("config", [SMALL_FRAME_ENCODER, BASE_FRAME_ENCODER], ids=["small", "base"])
def test_larger_presets_build_and_encode_a_frame(config):
    encoder = _seeded_encoder(config)
    size = config.frame_size
    with torch.no_grad():
        features = encoder(torch.zeros((1, 2, size, size, 3), dtype=torch.uint8))
    assert features.shape == (1, 2, config.feature_dim)


def test_frame_encoder_config_round_trips_and_checks_values():
    assert FrameEncoderConfig.from_dict(BASE_FRAME_ENCODER.to_dict()) == BASE_FRAME_ENCODER
    with pytest.raises(UserInputError, match="channels"):
        FrameEncoderConfig(channels=())
    with pytest.raises(UserInputError, match="feature_dim"):
        FrameEncoderConfig(feature_dim=0)
    with pytest.raises(UserInputError, match="frame encoder config"):
        FrameEncoderConfig.from_dict({"channels": [8], "colour": True})


# ---- motion energy ------------------------------------------------------------------------------


def test_motion_energy_is_zero_for_a_static_video():
    frames = _scene(8, square_x=[5] * 8, square_y=[10] * 8)
    motion = motion_energy(frames)
    assert motion.shape == (8, MOTION_CHANNELS) and motion.dtype == np.float32
    assert np.all(motion == 0)


def test_motion_energy_peaks_where_and_when_an_object_moves():
    count, jump = 10, 6
    on_left = motion_energy(_scene(count, square_x=[2] * count, square_y=_jump_at(count, jump, 4, 30)))
    on_right = motion_energy(_scene(count, square_x=[40] * count, square_y=_jump_at(count, jump, 4, 30)))
    for motion, moving, still in ((on_left, LEFT, RIGHT), (on_right, RIGHT, LEFT)):
        assert np.argmax(motion[:, moving]) == jump
        assert motion[jump, moving] > 0.05
        assert np.count_nonzero(motion[:, moving]) == 1  # only the frame of the jump
        assert np.all(motion[:, still] == 0) and np.all(motion[:, CENTRE] == 0)
        assert motion[jump, WHOLE] > 0
        # Same brightness before and after the move: the mean luma does not change.
        assert motion[jump, LUMA_CHANGE] == pytest.approx(0.0, abs=1e-6)


def test_a_flash_shows_in_every_region_and_as_a_signed_luma_change():
    frames = _scene(6)
    frames[3] = 250  # one bright frame
    motion = motion_energy(frames)
    expected = (250 - 60) / 255
    for channel in (LEFT, CENTRE, RIGHT, WHOLE):
        assert motion[3, channel] == pytest.approx(expected, rel=1e-4)
        assert motion[4, channel] == pytest.approx(expected, rel=1e-4)
    assert motion[3, LUMA_CHANGE] == pytest.approx(expected, rel=1e-4)  # onset: brighter
    assert motion[4, LUMA_CHANGE] == pytest.approx(-expected, rel=1e-4)  # back to dark
    assert np.all(motion[[0, 1, 2, 5]] == 0)


def test_motion_energy_first_frame_compares_with_the_previous_frame_when_given():
    frames = _scene(3)
    brighter = np.full_like(frames[0], 111)
    assert np.all(motion_energy(frames)[0] == 0)
    with_previous = motion_energy(frames, previous=brighter)
    assert with_previous[0, WHOLE] == pytest.approx((111 - 60) / 255, rel=1e-4)
    assert with_previous[0, LUMA_CHANGE] == pytest.approx(-(111 - 60) / 255, rel=1e-4)


def test_motion_energy_does_not_depend_on_resolution():
    count = 8
    small = _scene(count, size=24, square_x=_jump_at(count, 5, 1, 18), square_y=[3] * count)
    large = small.repeat(3, axis=1).repeat(3, axis=2)  # the same picture at 72 x 72
    np.testing.assert_allclose(motion_energy(large), motion_energy(small), rtol=1e-5, atol=1e-7)


def test_motion_energy_of_a_batch_matches_each_clip_and_keeps_torch_tensors():
    count = 7
    clips = np.stack(
        [
            _scene(count, square_x=_jump_at(count, 2, 1, 30), square_y=[5] * count),
            _scene(count, square_x=[20] * count, square_y=_jump_at(count, 4, 0, 25)),
        ]
    )
    batched = motion_energy(torch.from_numpy(clips), regions=4)
    assert isinstance(batched, torch.Tensor) and batched.shape == (2, count, 6)
    for row in range(2):
        np.testing.assert_allclose(batched[row].numpy(), motion_energy(clips[row], regions=4), rtol=1e-6)


def test_motion_energy_is_deterministic_and_checks_its_input():
    frames = np.random.default_rng(4).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    assert np.array_equal(motion_energy(frames), motion_energy(frames.copy()))
    with pytest.raises(ValueError, match="uint8"):
        motion_energy(frames.astype(np.float32))
    with pytest.raises(ValueError, match="regions"):
        motion_energy(frames, regions=17)


# ---- reading a video span --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jumping_square(tmp_path_factory):
    """2 s at 8 fps, 64 x 64: a square on the left jumps at frame 5, one on the right at frame 11."""
    count = 16
    frames = _scene(count, size=64)
    for k in range(count):
        left_y = 4 if k < 5 else 40
        right_y = 4 if k < 11 else 40
        frames[k, left_y : left_y + 12, 4:16] = 255
        frames[k, right_y : right_y + 12, 48:60] = 255
    return make_video_from_images(tmp_path_factory.mktemp("video") / "squares.mp4", frames, fps=8)


def test_video_inputs_reads_frames_motion_and_times(jumping_square):
    inputs = video_inputs(jumping_square, fps=8, size=32)
    assert inputs.frames.shape == (16, 32, 32, 3) and inputs.frames.dtype == np.uint8
    assert inputs.motion.shape == (16, MOTION_CHANNELS)
    np.testing.assert_allclose(inputs.times, np.arange(16) / 8)
    assert (inputs.fps, inputs.first_index, inputs.span_frames, len(inputs)) == (8.0, 0, 16, 16)
    assert np.argmax(inputs.motion[:, LEFT]) == 5 and np.argmax(inputs.motion[:, RIGHT]) == 11
    assert inputs.motion[5, LEFT] > 10 * inputs.motion[5, RIGHT]
    assert inputs.motion[11, RIGHT] > 10 * inputs.motion[11, LEFT]
    frames, motion = inputs.tensors()
    assert frames.shape == (1, 16, 32, 32, 3) and motion.shape == (1, 16, MOTION_CHANNELS)


def test_a_span_counts_frames_from_its_start(jumping_square):
    inputs = video_inputs(jumping_square, start_s=0.5, duration_s=1.0, fps=8, size=32)
    assert len(inputs) == 8
    np.testing.assert_allclose(inputs.times, 0.5 + np.arange(8) / 8)
    assert np.argmax(inputs.motion[:, LEFT]) == 1  # frame 5 of the file
    at_6fps = video_inputs(jumping_square, duration_s=1.25, fps=6, size=32)
    assert len(at_6fps) == 8  # ceil(1.25 * 6)


def test_a_span_compares_its_first_frame_with_the_frame_before_it(tmp_path):
    clip = make_video(tmp_path / "bands.mp4", seconds=3, fps=24, size=(64, 48))  # every frame differs
    whole = video_inputs(clip, duration_s=2.0, fps=8, size=32)
    later = video_inputs(clip, start_s=1.0, duration_s=1.0, fps=8, size=32)
    assert whole.motion[8, WHOLE] > 0
    np.testing.assert_allclose(later.motion, whole.motion[8:], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(later.frames, whole.frames[8:])


def test_windows_cover_the_span_with_the_same_frames_and_motion(jumping_square):
    whole = video_inputs(jumping_square, fps=8, size=32)
    windows = list(iter_video_windows(jumping_square, fps=8, size=32, window_frames=6, overlap_frames=2))
    assert [w.first_index for w in windows] == window_starts(16, 6, 2)
    for window in windows:
        assert len(window) == 6 and window.span_frames == 16
        part = slice(window.first_index, window.first_index + 6)
        np.testing.assert_array_equal(window.frames, whole.frames[part])
        np.testing.assert_allclose(window.motion, whole.motion[part], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(window.times, whole.times[part])


def test_a_span_may_end_slightly_after_the_video_holding_its_last_frame(jumping_square):
    inputs = video_inputs(jumping_square, start_s=1.5, duration_s=0.75, fps=8, size=32)
    assert len(inputs) == 6  # the file has 4 frames from 1.5 s; 2 more hold the last one
    np.testing.assert_array_equal(inputs.frames[4], inputs.frames[3])
    np.testing.assert_array_equal(inputs.frames[5], inputs.frames[3])
    assert np.all(inputs.motion[4:] == 0)


def test_window_starts_cover_everything_with_enough_overlap():
    assert window_starts(10, 12, 4) == [0]
    for total, window, overlap in [(30, 12, 4), (361, 360, 36), (1000, 360, 36), (13, 12, 0), (100, 7, 6)]:
        starts = window_starts(total, window, overlap)
        assert starts[0] == 0 and starts[-1] == total - window
        assert all(window - overlap >= later - earlier > 0 for earlier, later in zip(starts, starts[1:]))
    with pytest.raises(ValueError):
        window_starts(10, 4, 4)


def test_bad_spans_and_files_are_refused_with_the_file_name(tmp_path, jumping_square):
    audio = make_audio(tmp_path / "voice.wav", seconds=1.0)
    with pytest.raises(MediaError, match="voice.wav has no video stream"):
        video_inputs(audio)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(MediaError, match="notes.mp4"):
        video_inputs(text)
    with pytest.raises(MediaError, match="missing.mp4: file not found"):
        video_inputs(tmp_path / "missing.mp4")
    with pytest.raises(UserInputError, match=r"squares.mp4: start 5.000 s is not before the end"):
        video_inputs(jumping_square, start_s=5.0)
    with pytest.raises(UserInputError, match="duration must be positive"):
        video_inputs(jumping_square, duration_s=0.0)
    with pytest.raises(UserInputError, match="duration must be positive"):
        iter_video_windows(jumping_square, duration_s=-1.0)
    with pytest.raises(UserInputError, match="runs past the end"):
        video_inputs(jumping_square, start_s=1.0, duration_s=5.0)
    with pytest.raises(UserInputError, match=">= 0"):
        video_inputs(jumping_square, start_s=-1.0)
    with pytest.raises(UserInputError, match="frame rate"):
        video_inputs(jumping_square, fps=0)


# ---- time alignment -----------------------------------------------------------------------------


def test_resampling_at_the_same_rate_is_the_identity():
    features = torch.randn(2, 9, 3, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(resample_to_frames(features, 8.0, 9, 8.0), features)


def test_resampling_interpolates_linearly_between_frame_centres():
    # A feature that grows linearly with each frame's centre time is reproduced exactly inside the span.
    src_fps, dst_rate, dst_frames = 8.0, 21.5, 40
    source_centres = (torch.arange(16) + 0.5) / src_fps
    features = torch.stack([source_centres, -2 * source_centres], dim=-1)[None]
    resampled = resample_to_frames(features, src_fps, dst_frames, dst_rate)
    assert resampled.shape == (1, dst_frames, 2)
    centres = (torch.arange(dst_frames) + 0.5) / dst_rate
    inside = (centres >= source_centres[0]) & (centres <= source_centres[-1])
    torch.testing.assert_close(resampled[0, inside, 0], centres[inside])
    torch.testing.assert_close(resampled[0, inside, 1], -2 * centres[inside])
    assert torch.all(resampled[0, ~inside & (centres < 1), 0] == source_centres[0])  # held before the first


def test_resampling_keeps_an_event_at_its_time():
    motion = torch.zeros(1, 16, 1)
    motion[0, 10] = 1.0  # the frame covering 1.25-1.375 s at 8 fps
    at_curve_rate = resample_to_frames(motion, 8.0, 12, 6.0)
    assert int(torch.argmax(at_curve_rate[0, :, 0])) == 7  # the 6 Hz frame covering 1.1667-1.333 s
    assert resample_to_frames(motion, 8.0, 3, 1.0).shape == (1, 3, 1)
    with pytest.raises(ValueError):
        resample_to_frames(motion[0], 8.0, 12, 6.0)
