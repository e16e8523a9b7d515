"""Which device the engine runs on, and in which precision.

`select_device` picks CUDA, then Apple MPS, then the CPU, unless the user names one; a device that
is unknown or not present is refused with the list of those that are. `inference_dtype` says which
floating-point precision is fast *and* safe on a device. Nothing here changes process-wide torch
settings (default dtype, TF32, current CUDA device): the caller passes device and dtype explicitly.
"""

from __future__ import annotations

import logging
import os
import platform
import re
from dataclasses import dataclass

import torch

from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

AUTO = "auto"
_DEVICE_PATTERN = re.compile(r"^(cpu|cuda|mps)(?::(\d+))?$")
_GIB = 1024**3


@dataclass(frozen=True)
class DeviceInfo:
    """A device the engine can run on, as the GUI's device picker shows it."""

    name: str  # what select_device accepts: "cuda:0", "mps", "cpu"
    kind: str  # "cuda", "mps" or "cpu"
    description: str  # for people, e.g. "NVIDIA H100 80GB HBM3 (79.1 GiB)"
    memory_bytes: int | None = None  # device memory where torch can tell, else None


def _cuda_count() -> int:
    # is_available() first: device_count() alone can report GPUs the driver then refuses.
    if not torch.cuda.is_available():
        return 0
    return torch.cuda.device_count()


def _mps_available() -> bool:
    return torch.backends.mps.is_available()


def _cuda_info(index: int) -> DeviceInfo:
    properties = torch.cuda.get_device_properties(index)
    memory = int(properties.total_memory)
    return DeviceInfo(
        name=f"cuda:{index}",
        kind="cuda",
        description=f"{properties.name} ({memory / _GIB:.1f} GiB)",
        memory_bytes=memory,
    )


def _cpu_info() -> DeviceInfo:
    processor = platform.processor() or platform.machine() or "CPU"
    cores = os.cpu_count()
    cores_text = f", {cores} cores" if cores else ""
    return DeviceInfo(name="cpu", kind="cpu", description=f"CPU ({processor}{cores_text})")


def available_devices() -> list[DeviceInfo]:
    """Every device present, in the order automatic selection prefers them (the CPU last)."""
    devices = [_cuda_info(index) for index in range(_cuda_count())]
    if _mps_available():
        # MPS shares the Mac's unified memory; torch does not report a per-device size.
        devices.append(DeviceInfo(name="mps", kind="mps", description="Apple GPU (Metal, unified memory)"))
    devices.append(_cpu_info())
    return devices


def _available_names() -> str:
    return ", ".join(device.name for device in available_devices())


def _unavailable(requested: str, why: str) -> UserInputError:
    return UserInputError(
        f"device '{requested}' is not available ({why}); available devices: {_available_names()} (or 'auto')"
    )


def _auto_device() -> torch.device:
    if _cuda_count() > 0:
        return torch.device("cuda", 0)
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _explicit_device(requested: str, kind: str, index: int | None) -> torch.device:
    if kind == "cpu":
        if index not in (None, 0):
            raise _unavailable(requested, "there is one CPU device")
        return torch.device("cpu")
    if kind == "mps":
        if not _mps_available():
            raise _unavailable(requested, "no Apple Metal GPU was found")
        if index not in (None, 0):
            raise _unavailable(requested, "there is one MPS device")
        return torch.device("mps")
    count = _cuda_count()
    if count == 0:
        raise _unavailable(requested, "no CUDA GPU was found")
    index = 0 if index is None else index
    if index >= count:
        plural = "GPU" if count == 1 else "GPUs"
        raise _unavailable(requested, f"this machine has {count} CUDA {plural}")
    return torch.device("cuda", index)


def select_device(preference: str | torch.device | None = AUTO) -> torch.device:
    """The device to run on: CUDA -> MPS -> CPU for "auto"/None, else the one named.

    Accepts "cpu", "mps", "cuda" (the first GPU) and "cuda:N", case-insensitively.
    """
    requested = AUTO if preference is None else str(preference).strip()
    normalised = requested.lower()
    if normalised in (AUTO, ""):
        device = _auto_device()
        logger.info("automatic device selection chose %s", device)
        return device
    match = _DEVICE_PATTERN.match(normalised)
    if match is None:
        raise UserInputError(
            f"unknown device '{requested}': use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'; "
            f"available devices: {_available_names()}"
        )
    kind, index_text = match.groups()
    index = None if index_text is None else int(index_text)
    return _explicit_device(requested, kind, index)


def _as_device(device: torch.device | str) -> torch.device:
    return device if isinstance(device, torch.device) else torch.device(device)


def _cuda_dtype(device: torch.device) -> torch.dtype:
    # Capability is asked of this very GPU: torch.cuda.is_bf16_supported() asks about the *current*
    # device and, by default, also says yes where bf16 is only emulated (slowly) on older GPUs.
    major, _minor = torch.cuda.get_device_capability(device)
    if major >= 8:
        # Ampere and later compute bf16 natively; bf16 keeps fp32's exponent range, so attention
        # logits and large activations cannot overflow as they can in fp16.
        return torch.bfloat16
    if major >= 7:
        # Volta/Turing: no bf16 in hardware, but fp16 tensor cores. fp16's narrow range (max 65504)
        # is the risk; LayerNorm and scaled_dot_product_attention reduce in fp32 internally, which
        # is where activations overflow first. The GPU benchmark must confirm takes stay finite.
        return torch.float16
    # Pascal and older run fp16 at a fraction of fp32 speed (except the P100): no gain, only risk.
    return torch.float32


def inference_dtype(device: torch.device | str) -> torch.dtype:
    """The floating-point precision to run inference in on ``device``.

    - CPU: float32. bf16/fp16 matmuls on most desktop CPUs are emulated and slower than fp32, and
      the take's loudness must be exact there, where tests and references are computed.
    - CUDA: bfloat16 on compute capability >= 8.0, float16 on 7.x, float32 below (see _cuda_dtype).
    - MPS: float32. Half precision on Metal is not yet known to be safe for our models: bf16 needs
      macOS 14, several operators lack half kernels on MPS (FFT/STFT used by codecs among them), and
      nobody has measured our take quality there in fp16. Switch it on once measured on a Mac.
    """
    device = _as_device(device)
    if device.type == "cuda":
        return _cuda_dtype(device)
    return torch.float32
