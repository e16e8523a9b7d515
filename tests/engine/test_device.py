"""Device selection (CUDA -> MPS -> CPU, overridable) and inference precision, with faked hardware."""

from types import SimpleNamespace

import pytest
import torch

from foleystudio.engine.device import available_devices, inference_dtype, select_device
from foleystudio.errors import UserInputError

GIB = 1024**3


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def two_gpus_and_mps(monkeypatch):
    names = ["NVIDIA H100 80GB HBM3", "NVIDIA GeForce RTX 2080"]
    memories = [80 * GIB, 8 * GIB]

    def properties(index):
        return SimpleNamespace(name=names[index], total_memory=memories[index])

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_properties", properties)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)


@pytest.fixture
def mps_only(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)


def test_cpu_only_machine_lists_and_chooses_the_cpu(cpu_only):
    devices = available_devices()
    assert [d.name for d in devices] == ["cpu"]
    assert devices[0].kind == "cpu" and devices[0].description.startswith("CPU")
    assert select_device() == torch.device("cpu")
    assert select_device(None) == torch.device("cpu")
    assert select_device("AUTO") == torch.device("cpu")
    assert select_device(" CPU ") == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(two_gpus_and_mps):
    assert select_device("auto") == torch.device("cuda", 0)


def test_auto_takes_mps_without_cuda(mps_only):
    assert select_device("auto") == torch.device("mps")
    assert [d.name for d in available_devices()] == ["mps", "cpu"]


def test_gpus_are_listed_in_preference_order_with_name_and_memory(two_gpus_and_mps):
    devices = available_devices()
    assert [d.name for d in devices] == ["cuda:0", "cuda:1", "mps", "cpu"]
    assert devices[0].description == "NVIDIA H100 80GB HBM3 (80.0 GiB)"
    assert devices[1].memory_bytes == 8 * GIB
    assert devices[2].memory_bytes is None


def test_explicit_devices_are_honoured(two_gpus_and_mps):
    assert select_device("cuda") == torch.device("cuda", 0)
    assert select_device("cuda:1") == torch.device("cuda", 1)
    assert select_device("mps") == torch.device("mps")
    assert select_device("cpu") == torch.device("cpu")
    assert select_device(torch.device("cuda", 1)) == torch.device("cuda", 1)


def test_missing_gpu_index_names_what_is_available(two_gpus_and_mps):
    with pytest.raises(UserInputError) as raised:
        select_device("cuda:2")
    message = str(raised.value)
    assert "'cuda:2' is not available" in message
    assert "2 CUDA GPUs" in message
    assert "cuda:0, cuda:1, mps, cpu" in message


@pytest.mark.parametrize("requested", ["cuda", "cuda:0", "mps"])
def test_absent_accelerator_is_refused_with_the_available_list(cpu_only, requested):
    with pytest.raises(UserInputError, match=rf"'{requested}' is not available .*available devices: cpu"):
        select_device(requested)


@pytest.mark.parametrize("requested", ["tpu", "gpu", "cuda:x", "cuda:-1", "vulkan"])
def test_unknown_device_name_is_refused(cpu_only, requested):
    with pytest.raises(UserInputError, match=rf"unknown device '{requested}'.*available devices: cpu"):
        select_device(requested)


def test_cpu_and_mps_run_in_float32():
    assert inference_dtype("cpu") == torch.float32
    assert inference_dtype(torch.device("cpu")) == torch.float32
    assert inference_dtype("mps") == torch.float32


@pytest.mark.parametrize(
    ("capability", "expected"),
    [((9, 0), torch.bfloat16), ((8, 6), torch.bfloat16), ((7, 5), torch.float16), ((6, 1), torch.float32)],
)
def test_cuda_precision_follows_the_gpu_generation(monkeypatch, capability, expected):
    asked = []

    def fake_capability(device):
        asked.append(device)
        return capability

    monkeypatch.setattr(torch.cuda, "get_device_capability", fake_capability)
    assert inference_dtype("cuda:1") == expected
    # The very GPU asked about, not whichever is "current" process-wide.
    assert asked == [torch.device("cuda", 1)]


def test_selection_flips_no_process_wide_setting(two_gpus_and_mps, monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: (9, 0))
    before = (torch.get_default_dtype(), torch.get_default_device())
    select_device("auto")
    inference_dtype(select_device("cuda:1"))
    assert (torch.get_default_dtype(), torch.get_default_device()) == before
