"""Build an engine from its config, and save or load one as a model folder.

The one place a config turns into modules. A model folder (see `checkpoint`) holds the
`EngineConfig`, one safetensors file per component, the caption tokenizer and a model card;
loading is strict, so weights that do not fit the config fail with a message naming the tensor.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from foleystudio.engine.checkpoint import load_config, load_state, save_model_folder
from foleystudio.engine.codec.analytic import AnalyticCodec, AnalyticCodecConfig
from foleystudio.engine.codec.base import AudioCodec
from foleystudio.engine.codec.learned import LearnedCodec
from foleystudio.engine.conditioners.tokenizer import WordTokenizer
from foleystudio.engine.config import CodecConfig, EngineConfig, preset
from foleystudio.engine.device import inference_dtype, select_device
from foleystudio.engine.lufs_predictor import LufsPredictor
from foleystudio.engine.model import FoleyGenerator
from foleystudio.engine.reference_bank import ReferenceBank, bank_files, load_bank
from foleystudio.engine.registry import default_model, resolve_model
from foleystudio.engine.video_features import FrameEncoder

logger = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"
PRESET_PREFIX = "preset:"
COMPONENTS = ("codec", "generator", "video_encoder", "lufs_predictor")


@dataclass(eq=False)
class Engine:
    """A ready model: its modules on one device, in inference mode."""

    config: EngineConfig
    codec: AudioCodec
    generator: FoleyGenerator
    video_encoder: FrameEncoder
    lufs_predictor: LufsPredictor
    device: torch.device
    model_id: str
    # Text prompts retrieve a reference sound from it (`reference_bank`); None: the model has none.
    reference_bank: ReferenceBank | None = None

    def components(self) -> dict[str, nn.Module]:
        return {name: getattr(self, name) for name in COMPONENTS}

    @property
    def tokenizer(self) -> WordTokenizer:
        return self.generator.conditioners.text.tokenizer

    @property
    def dtype(self) -> torch.dtype:
        """The generator's compute dtype (the codec and DSP stay in float32)."""
        return next(self.generator.parameters()).dtype


def _build_codec(config: CodecConfig) -> AudioCodec:
    return AnalyticCodec(config) if isinstance(config, AnalyticCodecConfig) else LearnedCodec(config)


def build_engine(config: EngineConfig, device: str | torch.device = "cpu", tokenizer: WordTokenizer | None = None,
                 seed: int = 0, model_id: str | None = None) -> Engine:
    """An engine with freshly initialised (untrained) weights, the same for the same seed.

    The seed is applied inside a forked RNG state, so building leaves the caller's global RNG as
    it was (no global seeding, house style).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        modules = {
            "codec": _build_codec(config.codec),
            "generator": FoleyGenerator(config.generator, tokenizer),
            "video_encoder": FrameEncoder(config.video_encoder),
            "lufs_predictor": LufsPredictor(config.lufs_predictor),
        }
    return _ready(config, modules, select_device(device), model_id or f"{PRESET_PREFIX}{config.name}")


def _ready(config: EngineConfig, modules: dict[str, nn.Module], device: torch.device, model_id: str) -> Engine:
    for name, module in modules.items():
        module.eval()
        # Only the generator runs in half precision on GPUs. The codec and the small video
        # networks keep their own dtypes (the codec's DSP buffers include complex tensors): their
        # DSP and norms are the parts that suffer in half precision, and they are cheap.
        module.to(device=device, dtype=_dtype_of(name, device))
    return Engine(config=config, device=device, model_id=model_id, **modules)


def _dtype_of(component: str, device: torch.device) -> torch.dtype | None:
    return inference_dtype(device) if component == "generator" else None


def save_engine(engine: Engine, folder: str | Path, card_text: str, overwrite: bool = False) -> Path:
    """Write ``engine`` as a model folder (config.json, one safetensors per component, tokenizer, card)."""
    extra_files = {TOKENIZER_FILE: json.dumps(engine.tokenizer.to_dict(), indent=1)}
    if engine.reference_bank is not None:
        extra_files.update(bank_files(engine.reference_bank))
    return save_model_folder(folder, engine.config, engine.components(), card_text, extra_files=extra_files,
                             overwrite=overwrite)


def load_engine(model: str | Path = "default", device: str | torch.device = "auto") -> Engine:
    """The engine of a model: ``default``, a registry name, a model folder, or ``preset:NAME`` (untrained)."""
    model = str(model)
    if model.startswith(PRESET_PREFIX):
        logger.warning("using the untrained %s preset: it makes noise, not sound effects", model)
        return build_engine(preset(model[len(PRESET_PREFIX):]), device)
    entry = default_model() if model == "default" else resolve_model(model)
    folder = Path(entry.path)
    config = load_config(folder, EngineConfig)
    tokenizer = WordTokenizer.load(folder / TOKENIZER_FILE)
    target = select_device(device)
    engine = build_engine(config, "cpu", tokenizer, model_id=entry.name)
    for name, module in engine.components().items():
        load_state(folder, name, module, target, dtype=_dtype_of(name, target))
    engine.device = target
    engine.reference_bank = load_bank(folder)
    logger.info("loaded model %s from %s on %s", entry.name, folder, target)
    return engine
