"""Everything the engine runs on its device uses only what Apple's MPS backend has: no float64
tensors (MPS has no float64) and no 3-D convolution, pooling or sampling operators.

Checked on the CPU by recording every aten operator of a full generation (conditions, sampling,
decoding) and of the LUFS predictor with a dispatch mode; a new operator that MPS lacks fails here
before it fails on a Mac.
"""

from fractions import Fraction

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from foleystudio.engine.builder import build_engine
from foleystudio.engine.config import TINY
from foleystudio.engine.pipeline import generate, run_to_end
from foleystudio.engine.request import GenerationRequest, VideoSpan
from tests.media import make_audio, make_video

# Operators MPS does not implement (3-D convolution/pooling/sampling, 3-D upsampling).
# Making a tensor from float64 numpy data and converting it happens on the CPU before anything
# moves to the device; computing in float64 would not.
CONVERSIONS = {"lift_fresh", "lift_fresh_copy", "detach", "_to_copy", "alias", "view"}
MPS_MISSING = ("conv3d", "convolution_3d", "max_pool3d", "avg_pool3d", "adaptive_max_pool3d",
               "adaptive_avg_pool3d", "grid_sampler_3d", "upsample_trilinear3d", "slow_conv3d")


class Recorder(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops, self.float64 = set(), set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        self.ops.add(name)
        if name == "convolution" and args[0].ndim == 5:
            self.ops.add("convolution_3d")
        outputs = result if isinstance(result, (tuple, list)) else (result,)
        if name not in CONVERSIONS and any(isinstance(out, torch.Tensor) and out.dtype == torch.float64
                                           for out in outputs):
            self.float64.add(name)
        return result


def test_a_full_generation_uses_only_operators_and_dtypes_mps_has(tmp_path):
    engine = build_engine(TINY)
    request = GenerationRequest(
        duration_s=2.0, on_screen_prompt="glass", steps=2, sampler="heun",
        reference_audio=make_audio(tmp_path / "ref.wav", seconds=1.0, rate=44100),
        video=VideoSpan(make_video(tmp_path / "clip.mp4", seconds=2.0, fps=Fraction(24)), 0.0),
    )
    recorder = Recorder()
    with recorder:
        run_to_end(generate(engine, request))
        frames = torch.randint(0, 255, (1, 12, 32, 32, 3), dtype=torch.uint8)
        engine.lufs_predictor(frames)
    assert {"convolution", "_scaled_dot_product_flash_attention_for_cpu", "addmm"} & recorder.ops
    assert not recorder.ops & set(MPS_MISSING)
    assert recorder.float64 == set()
