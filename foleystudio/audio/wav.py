"""Writing WAV / Broadcast WAV stems, and reading their ``bext`` chunk back.

Formats: 16-bit PCM with TPDF dither, 24-bit PCM (no dither: its noise floor, -144 dBFS, lies far
below any playback chain), 32-bit IEEE float (written as is, values beyond +-1 kept). Integer formats
clip to [-1, 1) and report how many input samples were out of range.

Sample rates: 44.1, 48 and 96 kHz only (``STEM_SAMPLE_RATES``): stems are delivered at those, and
any other rate reaching the exporter is a bug upstream better caught here (UserInputError).

The RIFF is written by this module, not by libsndfile. Reason: one streamed pass writes header,
``bext`` and samples; soundfile has no public call for libsndfile's SFC_SET_BROADCAST_INFO, and
inserting a chunk into a finished file would copy every sample a second time. Chunk order is
``fmt `` (``fact``) ``bext`` ``data``, so readers that expect ``fmt `` first still work. Files whose
RIFF size would pass 4 GiB are written as RF64 (EBU Tech 3306: ``ds64`` chunk, 32-bit sizes set to
0xFFFFFFFF), which soundfile, FFmpeg and the common DAWs read.

Output safety comes from foleystudio.atomic: an existing file is never replaced unless
``overwrite=True`` (OutputError); samples go to a temporary file in the destination folder that
becomes the destination only when complete, so a failed write leaves the old file (if any) untouched
and nothing half-written behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import struct
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

import numpy as np

import foleystudio
from foleystudio.atomic import atomic_output
from foleystudio.errors import MediaError, UserInputError
from foleystudio.video.probe import check_input_file

logger = logging.getLogger(__name__)

STEM_SAMPLE_RATES = (44100, 48000, 96000)
# The largest RIFF size field; a larger file is written as RF64.
RIFF_SIZE_LIMIT = 0xFFFFFFFF
_WRITE_BLOCK_FRAMES = 1 << 16

_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_IEEE_FLOAT = 0x0003
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
# dwChannelMask for files of more than two channels (WAVE speaker bits, in the usual orders).
_CHANNEL_MASKS = {3: 0x7, 4: 0x33, 5: 0x37, 6: 0x3F, 7: 0x70F, 8: 0x63F}

# bext (EBU Tech 3285 v2): Description, Originator, OriginatorReference, OriginationDate,
# OriginationTime, TimeReferenceLow/High, Version, UMID, 5 loudness values, Reserved.
_BEXT_LAYOUT = struct.Struct("<256s32s32s10s8sIIH64s5h180s")
_BEXT_TEXT_LIMITS = {"description": 256, "originator": 32, "originator_reference": 32}
# "Not calculated" marker of a bext loudness field.
_LOUDNESS_UNSET = 0x7FFF
_BEXT_VERSION = 2
_DATE_PATTERN = re.compile(r"^\d{4}[-:_ ./]\d{2}[-:_ ./]\d{2}$")
_TIME_PATTERN = re.compile(r"^\d{2}[-:_ ./]\d{2}[-:_ ./]\d{2}$")


class BitDepth(str, Enum):
    PCM_16 = "16"
    PCM_24 = "24"
    FLOAT_32 = "32f"

    @classmethod
    def parse(cls, value) -> BitDepth:
        """A BitDepth from itself, "16"/"24"/"32f" or 16/24/32."""
        if isinstance(value, cls):
            return value
        text = str(value).strip().lower()
        aliases = {"16": cls.PCM_16, "24": cls.PCM_24, "32f": cls.FLOAT_32, "32": cls.FLOAT_32, "float": cls.FLOAT_32}
        if text not in aliases:
            raise UserInputError(f"bit depth must be 16, 24 or 32f (float), got {value!r}")
        return aliases[text]

    @property
    def bytes_per_sample(self) -> int:
        return {"16": 2, "24": 3, "32f": 4}[self.value]


def _ascii_text(value: str, name: str) -> str:
    """``value`` folded to ASCII (accents dropped, other characters as '?'); bext text is ASCII."""
    if not isinstance(value, str):
        raise UserInputError(f"bext {name} must be text, got {type(value).__name__}")
    decomposed = unicodedata.normalize("NFKD", value)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return folded.encode("ascii", "replace").decode("ascii")


def _loudness_field(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UserInputError(f"bext {name} must be a number, got {value!r}") from None
    if not math.isfinite(value) or not -327.68 <= value <= 327.66:
        raise UserInputError(f"bext {name} must be between -327.68 and 327.66, got {value}")
    return value


@dataclass(frozen=True)
class BextInfo:
    """The Broadcast WAV ``bext`` chunk (EBU Tech 3285 version 2).

    Text is stored as ASCII (accented letters lose their accent, other characters become '?').
    ``origination_date``/``origination_time`` (YYYY-MM-DD, HH:MM:SS) default to now.
    ``time_reference_samples``: the first sample's position, in samples since midnight at the
    file's rate (for a stem, the video start's timecode). Loudness fields (LUFS / LU / dBTP, None
    if not measured) are stored to 0.01. An empty ``coding_history`` is filled in by
    ``write_wav`` with a line describing the file.
    """

    description: str = ""
    originator: str = "FoleyStudio"
    originator_reference: str = ""
    origination_date: str | None = None
    origination_time: str | None = None
    time_reference_samples: int = 0
    integrated_lufs: float | None = None
    loudness_range_lu: float | None = None
    max_true_peak_dbtp: float | None = None
    max_momentary_lufs: float | None = None
    max_short_term_lufs: float | None = None
    coding_history: str = ""
    umid: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        for name, limit in _BEXT_TEXT_LIMITS.items():
            text = _ascii_text(getattr(self, name), name)
            if len(text) > limit:
                raise UserInputError(f"bext {name} is {len(text)} characters; the limit is {limit}")
            object.__setattr__(self, name, text)
        object.__setattr__(self, "coding_history", _ascii_text(self.coding_history, "coding_history"))
        self._set_origination()
        reference = self.time_reference_samples
        if isinstance(reference, bool) or not isinstance(reference, (int, np.integer)) or not 0 <= reference < 1 << 64:
            raise UserInputError(f"bext time reference must be a whole number of samples >= 0, got {reference!r}")
        object.__setattr__(self, "time_reference_samples", int(reference))
        for name in ("integrated_lufs", "loudness_range_lu", "max_true_peak_dbtp", "max_momentary_lufs", "max_short_term_lufs"):
            object.__setattr__(self, name, _loudness_field(getattr(self, name), name))
        if not isinstance(self.umid, bytes) or len(self.umid) > 64:
            raise UserInputError("bext UMID must be at most 64 bytes")

    def _set_origination(self) -> None:
        now = dt.datetime.now()
        date = now.strftime("%Y-%m-%d") if self.origination_date is None else self.origination_date
        time = now.strftime("%H:%M:%S") if self.origination_time is None else self.origination_time
        if date and not _DATE_PATTERN.match(date):
            raise UserInputError(f"bext origination date must look like 2024-05-31, got {date!r}")
        if time and not _TIME_PATTERN.match(time):
            raise UserInputError(f"bext origination time must look like 13:45:00, got {time!r}")
        object.__setattr__(self, "origination_date", date)
        object.__setattr__(self, "origination_time", time)


@dataclass(frozen=True)
class WavWriteReport:
    path: Path
    frames: int
    channels: int
    sample_rate: int
    bit_depth: BitDepth
    clipped_samples: int  # input samples outside [-1, 1) that an integer format had to clip
    rf64: bool

    @property
    def clipped(self) -> bool:
        return self.clipped_samples > 0


# --- RIFF chunks ------------------------------------------------------------------------------


def _chunk(chunk_id: bytes, payload: bytes) -> bytes:
    padding = b"\x00" if len(payload) % 2 else b""
    return chunk_id + struct.pack("<I", len(payload)) + payload + padding


def _fmt_chunk(channels: int, sample_rate: int, depth: BitDepth) -> bytes:
    bits = depth.bytes_per_sample * 8
    block_align = channels * depth.bytes_per_sample
    tag = _WAVE_FORMAT_IEEE_FLOAT if depth is BitDepth.FLOAT_32 else _WAVE_FORMAT_PCM
    common = struct.pack("<HIIHH", channels, sample_rate, sample_rate * block_align, block_align, bits)
    if channels > 2:
        sub_format = struct.pack("<H", tag) + _GUID_TAIL
        extension = struct.pack("<HHI", 22, bits, _CHANNEL_MASKS.get(channels, 0)) + sub_format
        return _chunk(b"fmt ", struct.pack("<H", _WAVE_FORMAT_EXTENSIBLE) + common + extension)
    if tag == _WAVE_FORMAT_IEEE_FLOAT:
        return _chunk(b"fmt ", struct.pack("<H", tag) + common + struct.pack("<H", 0))
    return _chunk(b"fmt ", struct.pack("<H", tag) + common)


def _loudness_word(value: float | None) -> int:
    return _LOUDNESS_UNSET if value is None else int(round(value * 100))


def _bext_chunk(bext: BextInfo) -> bytes:
    reference = bext.time_reference_samples
    fixed = _BEXT_LAYOUT.pack(
        bext.description.encode("ascii"),
        bext.originator.encode("ascii"),
        bext.originator_reference.encode("ascii"),
        bext.origination_date.encode("ascii"),
        bext.origination_time.encode("ascii"),
        reference & 0xFFFFFFFF,
        reference >> 32,
        _BEXT_VERSION,
        bext.umid,
        _loudness_word(bext.integrated_lufs),
        _loudness_word(bext.loudness_range_lu),
        _loudness_word(bext.max_true_peak_dbtp),
        _loudness_word(bext.max_momentary_lufs),
        _loudness_word(bext.max_short_term_lufs),
        b"",
    )
    payload = fixed + bext.coding_history.encode("ascii")
    # An even size needs no RIFF pad byte, which some readers (libsndfile's RF64 parser) mishandle.
    if len(payload) % 2:
        payload += b"\x00"
    return _chunk(b"bext", payload)


def coding_history_line(sample_rate: int, depth: BitDepth, channels: int) -> str:
    """An EBU R 98 coding-history line for a file FoleyStudio writes."""
    bits = depth.bytes_per_sample * 8
    mode = {1: ",M=mono", 2: ",M=stereo"}.get(channels, "")
    return f"A=PCM,F={sample_rate},W={bits}{mode},T=FoleyStudio {foleystudio.__version__}\r\n"


def _header(channels: int, sample_rate: int, depth: BitDepth, frames: int, bext: BextInfo | None) -> tuple[bytes, bool]:
    """Everything before the samples, and whether the file is RF64."""
    data_size = frames * channels * depth.bytes_per_sample
    chunks = _fmt_chunk(channels, sample_rate, depth)
    if depth is BitDepth.FLOAT_32:
        chunks += _chunk(b"fact", struct.pack("<I", min(frames, 0xFFFFFFFF)))
    if bext is not None:
        chunks += _bext_chunk(bext)
    riff_size = 4 + len(chunks) + 8 + data_size + data_size % 2
    if riff_size <= RIFF_SIZE_LIMIT:
        return b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + chunks + b"data" + struct.pack("<I", data_size), False
    ds64 = _chunk(b"ds64", struct.pack("<QQQI", riff_size + 36, data_size, frames, 0))
    return b"RF64" + b"\xff\xff\xff\xff" + b"WAVE" + ds64 + chunks + b"data\xff\xff\xff\xff", True


# --- samples ----------------------------------------------------------------------------------


def _encoded_block(block: np.ndarray, depth: BitDepth, rng: np.random.Generator | None) -> tuple[bytes, int]:
    """Interleaved little-endian bytes of a (C, n) float block, and its count of clipped samples."""
    frames = np.ascontiguousarray(block.T, dtype=np.float64)  # (n, C): interleaved order
    if depth is BitDepth.FLOAT_32:
        return frames.astype("<f4").tobytes(), 0
    clipped = int(np.count_nonzero((frames >= 1.0) | (frames < -1.0)))
    full_scale = 2.0 ** (depth.bytes_per_sample * 8 - 1)
    scaled = frames * full_scale
    if rng is not None:
        # TPDF dither: the sum of two uniform +-0.5 LSB values, triangular over +-1 LSB.
        scaled += rng.random(scaled.shape) - rng.random(scaled.shape)
    quantised = np.clip(np.round(scaled), -full_scale, full_scale - 1).astype("<i4")
    if depth is BitDepth.PCM_16:
        return quantised.astype("<i2").tobytes(), clipped
    return quantised.view(np.uint8).reshape(-1, 4)[:, :3].tobytes(), clipped


def _checked_audio(audio) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.shape[0] < 1:
        raise UserInputError(f"audio must be an array of shape (channels, samples), got shape {audio.shape}")
    if audio.shape[0] > 18:
        raise UserInputError(f"audio has {audio.shape[0]} channels; is it (samples, channels) by mistake?")
    if not np.issubdtype(audio.dtype, np.floating):
        raise UserInputError(f"audio must be floating point, got {audio.dtype}")
    finite = np.isfinite(audio).all(axis=0)
    if not finite.all():
        raise UserInputError(f"audio contains NaN or infinite samples (first at sample {int(np.argmin(finite))})")
    return audio


def _checked_rate(sample_rate) -> int:
    if isinstance(sample_rate, bool) or sample_rate not in STEM_SAMPLE_RATES:
        allowed = ", ".join(f"{rate}" for rate in STEM_SAMPLE_RATES)
        raise UserInputError(f"WAV stems are written at {allowed} Hz, not {sample_rate!r}")
    return int(sample_rate)


def write_wav(
    path: str | os.PathLike,
    audio: np.ndarray,
    sample_rate: int,
    bit_depth: BitDepth | str | int = BitDepth.PCM_24,
    bext: BextInfo | None = None,
    overwrite: bool = False,
    dither_seed: int | None = None,
) -> WavWriteReport:
    """Write float (C, N) ``audio`` to a WAV/BWF file atomically; see the module docstring.

    ``dither_seed`` makes the 16-bit dither reproducible (None: fresh randomness each call).
    Returns a report with the number of clipped samples. UserInputError for bad audio or settings,
    OutputError for an existing file (without ``overwrite``) or an unwritable folder.
    """
    audio = _checked_audio(audio)
    sample_rate = _checked_rate(sample_rate)
    depth = BitDepth.parse(bit_depth)
    channels, frames = audio.shape
    if bext is not None and not bext.coding_history:
        bext = replace(bext, coding_history=coding_history_line(sample_rate, depth, channels))
    header, rf64 = _header(channels, sample_rate, depth, frames, bext)
    rng = np.random.default_rng(dither_seed) if depth is BitDepth.PCM_16 else None
    clipped = 0
    with atomic_output(path, overwrite) as temporary:
        with open(temporary, "wb") as file:
            file.write(header)
            for start in range(0, frames, _WRITE_BLOCK_FRAMES):
                data, block_clipped = _encoded_block(audio[:, start : start + _WRITE_BLOCK_FRAMES], depth, rng)
                file.write(data)
                clipped += block_clipped
            if (frames * channels * depth.bytes_per_sample) % 2:
                file.write(b"\x00")
    if clipped:
        logger.warning("%s: %d samples clipped to full scale", Path(path).name, clipped)
    return WavWriteReport(Path(path), frames, channels, sample_rate, depth, clipped, rf64)


# --- reading bext -----------------------------------------------------------------------------


def _iter_chunks(file, path: Path) -> Iterator[tuple[bytes, int, int]]:
    """(chunk id, payload offset, payload size) of each chunk of a RIFF/RF64 WAVE file."""
    head = file.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64", b"BW64") or head[8:12] != b"WAVE":
        raise MediaError(f"{path.name}: not a WAV file")
    file_size = os.fstat(file.fileno()).st_size
    data_size_64 = None
    offset = 12
    while offset + 8 <= file_size:
        file.seek(offset)
        chunk_id, size = struct.unpack("<4sI", file.read(8))
        if chunk_id == b"ds64":
            file.seek(offset + 8)
            data_size_64 = struct.unpack("<QQ", file.read(16))[1]
        if chunk_id == b"data" and size == 0xFFFFFFFF and data_size_64 is not None:
            size = data_size_64
        yield chunk_id, offset + 8, size
        offset += 8 + size + size % 2


def read_bext(path: str | os.PathLike) -> BextInfo | None:
    """The ``bext`` chunk of a WAV/RF64 file, or None if it has none; MediaError if not a WAV."""
    path = check_input_file(path)
    try:
        with open(path, "rb") as file:
            for chunk_id, offset, size in _iter_chunks(file, path):
                if chunk_id == b"bext":
                    file.seek(offset)
                    return _parse_bext(file.read(size), path)
    except OSError as error:
        raise MediaError(f"{path}: cannot be read ({error.strerror or error})") from error
    return None


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("ascii", "replace").rstrip()


def _matching(text: str, pattern: re.Pattern) -> str:
    """``text`` if it has the expected form, else "" (a malformed field in someone else's file)."""
    return text if pattern.match(text) else ""


def _parse_bext(payload: bytes, path: Path) -> BextInfo:
    if len(payload) < _BEXT_LAYOUT.size:
        raise MediaError(f"{path.name}: the bext chunk is damaged ({len(payload)} bytes, expected at least {_BEXT_LAYOUT.size})")
    fields = _BEXT_LAYOUT.unpack_from(payload)
    description, originator, reference, date, time, low, high, version, umid = fields[:9]
    loudness = [None if version < 2 or word == _LOUDNESS_UNSET else word / 100 for word in fields[9:14]]
    history = payload[_BEXT_LAYOUT.size :].split(b"\x00", 1)[0].decode("ascii", "replace")
    return BextInfo(
        description=_text(description),
        originator=_text(originator),
        originator_reference=_text(reference),
        origination_date=_matching(_text(date), _DATE_PATTERN),
        origination_time=_matching(_text(time), _TIME_PATTERN),
        time_reference_samples=low | (high << 32),
        integrated_lufs=loudness[0],
        loudness_range_lu=loudness[1],
        max_true_peak_dbtp=loudness[2],
        max_momentary_lufs=loudness[3],
        max_short_term_lufs=loudness[4],
        coding_history=history,
        umid=umid.rstrip(b"\x00") if version >= 1 else b"",
    )
