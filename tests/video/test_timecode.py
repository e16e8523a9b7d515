"""SMPTE timecode: reference values at the drop-frame boundaries, round trips, and rejection."""

from fractions import Fraction

import pytest

from foleystudio.errors import UserInputError
from foleystudio.video.timecode import (
    frames_to_timecode,
    seconds_to_frame,
    seconds_to_timecode,
    supports_drop_frame,
    timecode_base,
    timecode_to_frames,
    timecode_to_seconds,
)

NTSC = Fraction(30000, 1001)
NTSC_60 = Fraction(60000, 1001)
FILM = Fraction(24000, 1001)

# Known values (SMPTE 12M drop-frame: 2 resp. 4 labels skipped each minute but every tenth).
REFERENCE = [
    (NTSC, 0, "00:00:00;00"),
    (NTSC, 1799, "00:00:59;29"),
    (NTSC, 1800, "00:01:00;02"),  # ;00 and ;01 do not exist at minute 1
    (NTSC, 3597, "00:01:59;29"),
    (NTSC, 3598, "00:02:00;02"),
    (NTSC, 17981, "00:09:59;29"),
    (NTSC, 17982, "00:10:00;00"),  # every tenth minute keeps its labels
    (NTSC, 17983, "00:10:00;01"),
    (NTSC, 19781, "00:10:59;29"),
    (NTSC, 19782, "00:11:00;02"),
    (NTSC, 107892, "01:00:00;00"),  # 29.97 DF is exactly 107892 frames per hour
    (NTSC, 2589407, "23:59:59;29"),
    (NTSC_60, 3599, "00:00:59;59"),
    (NTSC_60, 3600, "00:01:00;04"),
    (NTSC_60, 35964, "00:10:00;00"),
    (NTSC_60, 215784, "01:00:00;00"),
    (FILM, 1440, "00:01:00:00"),  # 23.976 is non-drop: 24 labels a second
    (FILM, 86400, "01:00:00:00"),
    (Fraction(25), 90000, "01:00:00:00"),
    (Fraction(24), 1439, "00:00:59:23"),
    (Fraction(30), 1800, "00:01:00:00"),
]


@pytest.mark.parametrize(("rate", "frame", "label"), REFERENCE)
def test_reference_labels_and_back(rate, frame, label):
    assert frames_to_timecode(frame, rate) == label
    assert timecode_to_frames(label, rate) == frame


@pytest.mark.parametrize("rate", [NTSC, NTSC_60, FILM, Fraction(24), Fraction(25), Fraction(30), Fraction(50)])
def test_round_trip_around_every_minute_of_the_first_hour(rate):
    base = timecode_base(rate)
    drop = {NTSC: 2, NTSC_60: 4}.get(rate, 0)
    per_minute = 60 * base - drop
    for minute in range(0, 61):
        approximate = minute * per_minute + (minute // 10) * drop
        for frame in range(max(0, approximate - 6), approximate + 6):
            label = frames_to_timecode(frame, rate)
            assert timecode_to_frames(label, rate) == frame, label
    labels = [frames_to_timecode(f, rate) for f in range(0, 3 * per_minute)]
    assert len(set(labels)) == len(labels)  # never the same label twice


def test_24_hours_wrap_to_zero():
    assert frames_to_timecode(2589408, NTSC) == "00:00:00;00"
    assert frames_to_timecode(24 * 3600 * 24 + 5, Fraction(24)) == "00:00:00:05"
    assert frames_to_timecode(24 * 3600 * 24, FILM) == "00:00:00:00"


def test_parsing_rejects_hour_24_and_fields_out_of_range():
    for bad in ["24:00:00:00", "00:60:00:00", "00:00:60:00", "00:00:00:24"]:
        with pytest.raises(UserInputError, match="out of range"):
            timecode_to_frames(bad, Fraction(24))


def test_parsing_rejects_dropped_labels():
    with pytest.raises(UserInputError, match="does not exist in drop-frame"):
        timecode_to_frames("00:01:00;00", NTSC)
    with pytest.raises(UserInputError, match="does not exist in drop-frame"):
        timecode_to_frames("00:01:00;03", NTSC_60)
    assert timecode_to_frames("00:10:00;00", NTSC) == 17982  # minute 10 keeps ;00


def test_parsing_rejects_garbage_and_drop_frame_at_other_rates():
    for bad in ["", "1:2:3", "00:00:00", "ab:cd:ef:gh", "00:00:00:00:00"]:
        with pytest.raises(UserInputError, match="not a timecode"):
            timecode_to_frames(bad, Fraction(25))
    with pytest.raises(UserInputError, match="drop-frame timecode exists only at 29.97 and 59.94"):
        timecode_to_frames("00:00:01;00", Fraction(25))
    with pytest.raises(UserInputError, match="drop-frame"):
        frames_to_timecode(10, FILM, drop_frame=True)


def test_non_drop_at_2997_when_asked():
    assert frames_to_timecode(1800, NTSC, drop_frame=False) == "00:01:00:00"
    assert timecode_to_frames("00:01:00:00", NTSC) == 1800  # ':' reads as non-drop
    assert timecode_to_frames("00:01:00:02", NTSC, drop_frame=True) == 1800


def test_seconds_pick_the_frame_on_screen():
    for frame in range(0, 50000, 7):
        assert seconds_to_frame(frame / float(NTSC), NTSC) == frame  # float boundary, a hair low
        assert seconds_to_frame(Fraction(frame) / NTSC, NTSC) == frame
        assert seconds_to_frame((frame + 0.999) / float(NTSC), NTSC) == frame
    assert seconds_to_timecode(60.0, NTSC) == "00:00:59;28"  # 60 s of 29.97 is 1798.2 frames
    assert seconds_to_timecode(3600.0, Fraction(25)) == "01:00:00:00"
    assert timecode_to_seconds("00:10:00;00", NTSC) == Fraction(17982 * 1001, 30000)


def test_invalid_arguments():
    with pytest.raises(UserInputError):
        frames_to_timecode(-1, Fraction(24))
    with pytest.raises(UserInputError):
        frames_to_timecode(1.5, Fraction(24))
    with pytest.raises(UserInputError):
        frames_to_timecode(1, 0)
    with pytest.raises(UserInputError):
        seconds_to_frame(float("nan"), Fraction(24))
    assert supports_drop_frame(NTSC) and supports_drop_frame(NTSC_60)
    assert not supports_drop_frame(FILM) and not supports_drop_frame(30)
