"""Model folders: config (de)serialisation, atomic saving, strict loading and clear errors."""

import dataclasses
import enum
import errno
import json
import os
from typing import Literal

import pytest
import torch
from safetensors import safe_open
from torch import nn

from foleystudio.engine import checkpoint
from foleystudio.engine.checkpoint import (
    CARD_FILE,
    CONFIG_FILE,
    FORMAT_VERSION,
    ConfigError,
    ModelError,
    config_from_dict,
    config_to_dict,
    load_config,
    load_state,
    read_manifest,
    save_model_folder,
    verify_model_folder,
)
from foleystudio.errors import OutputError, UserInputError

CARD = "# Tiny test model\n\nA model built by the tests.\n"


class Activation(enum.Enum):
    GELU = "gelu"
    SILU = "silu"


@dataclasses.dataclass(frozen=True)
class BlockConfig:
    width: int
    heads: int
    activation: Activation

    def __post_init__(self):
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    block: BlockConfig
    depth: int
    dropout: float
    window_s: tuple[float, float]
    channels: tuple[int, ...]
    sampler: Literal["euler", "heun"]
    text_encoder: str | None
    blocks: tuple[BlockConfig, ...] = ()
    description: str = ""


CONFIG = ModelConfig(
    block=BlockConfig(width=8, heads=2, activation=Activation.SILU),
    depth=2,
    dropout=0.1,
    window_s=(0.0, 60.0),
    channels=(16, 32, 64),
    sampler="heun",
    text_encoder=None,
    blocks=(BlockConfig(4, 1, Activation.GELU), BlockConfig(6, 3, Activation.SILU)),
    description="tiny test config",
)


class TinyNet(nn.Module):
    """Parameters, a float buffer, an integer buffer and a tied weight: what real components have."""

    def __init__(self, width: int = 4):
        super().__init__()
        self.embed = nn.Embedding(10, width)
        self.proj = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 10, bias=False)
        self.head.weight = self.embed.weight  # tied, like an output layer sharing the embedding
        self.register_buffer("window", torch.hann_window(8))
        self.register_buffer("positions", torch.arange(5, dtype=torch.int64))


def seeded_net(seed: int, width: int = 4) -> TinyNet:
    generator = torch.Generator().manual_seed(seed)
    net = TinyNet(width)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return net


def assert_same_state(left: nn.Module, right: nn.Module) -> None:
    left_state, right_state = left.state_dict(), right.state_dict()
    assert list(left_state) == list(right_state)
    for key in left_state:
        assert left_state[key].dtype == right_state[key].dtype, key
        assert torch.equal(left_state[key], right_state[key]), key


@pytest.fixture
def saved(tmp_path):
    folder = tmp_path / "tiny-model"
    net = seeded_net(1)
    save_model_folder(folder, CONFIG, {"dit": net, "codec": nn.Linear(3, 2)}, CARD, {"lexicon/words.tsv": "owl\tbird\n"})
    return folder, net


# ----- config serialisation


def test_config_round_trips_through_json_text():
    text = json.dumps(config_to_dict(CONFIG))
    assert config_from_dict(ModelConfig, json.loads(text)) == CONFIG


def test_config_dict_is_plain_json_values():
    data = config_to_dict(CONFIG)
    assert data["block"] == {"width": 8, "heads": 2, "activation": "silu"}
    assert data["window_s"] == [0.0, 60.0]
    assert data["blocks"][1] == {"width": 6, "heads": 3, "activation": "silu"}
    assert data["text_encoder"] is None


def test_integer_given_for_float_is_accepted_as_float():
    data = config_to_dict(CONFIG) | {"dropout": 0}
    restored = config_from_dict(ModelConfig, data)
    assert restored.dropout == 0.0 and isinstance(restored.dropout, float)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d | {"depthh": 3}, r"unknown key 'depthh' \(ModelConfig has 'block', 'depth'"),
        (lambda d: d | {"block": d["block"] | {"kernel": 3}}, r"unknown key 'block\.kernel'"),
        (lambda d: {k: v for k, v in d.items() if k != "dropout"}, r"missing key 'dropout'"),
        (lambda d: d | {"block": {"width": 8, "heads": 2}}, r"missing key 'block\.activation'"),
        (lambda d: d | {"depth": True}, r"'depth' must be an integer, not true"),
        (lambda d: d | {"depth": 2.5}, r"'depth' must be an integer, not 2\.5"),
        (lambda d: d | {"dropout": "0.1"}, r"'dropout' must be a number, not '0\.1'"),
        (lambda d: d | {"window_s": [0.0]}, r"'window_s' must have 2 items, not 1"),
        (lambda d: d | {"channels": [16, "x"]}, r"'channels\[1\]' must be an integer"),
        (lambda d: d | {"sampler": "ddim"}, r"'sampler' must be one of 'euler', 'heun', not 'ddim'"),
        (lambda d: d | {"block": d["block"] | {"activation": "relu"}}, r"'block\.activation' must be one of 'gelu', 'silu'"),
        (lambda d: d | {"text_encoder": 3}, r"'text_encoder' must be a string, not 3"),
        (lambda d: d | {"blocks": [{"width": 5, "heads": 2, "activation": "gelu"}]}, r"blocks\[0\]: width 5 is not divisible"),
        (lambda d: d | {"block": [8, 2]}, r"'block' must be an object \(BlockConfig\), not a list"),
    ],
)
def test_bad_config_is_refused_naming_the_key(change, message):
    data = change(config_to_dict(CONFIG))
    with pytest.raises(ConfigError, match=message) as raised:
        config_from_dict(ModelConfig, data, source="my.json")
    assert str(raised.value).startswith("my.json: ")
    assert isinstance(raised.value, UserInputError)


@dataclasses.dataclass(frozen=True)
class _Grown:
    width: int
    mode: str = dataclasses.field(default="old", metadata={"read_default_if_absent": True})


def test_a_field_added_later_reads_as_its_default_from_older_files_and_others_stay_required():
    from foleystudio.engine.config_io import READ_DEFAULT_IF_ABSENT

    assert READ_DEFAULT_IF_ABSENT == "read_default_if_absent"
    assert config_from_dict(_Grown, {"width": 4}) == _Grown(4, "old")
    assert config_from_dict(_Grown, {"width": 4, "mode": "new"}) == _Grown(4, "new")
    with pytest.raises(ConfigError, match="missing key 'width'"):
        config_from_dict(_Grown, {"mode": "new"})


def test_config_to_dict_refuses_what_json_cannot_hold():
    with pytest.raises(ValueError, match="'dropout' is nan"):
        config_to_dict(dataclasses.replace(CONFIG, dropout=float("nan")))
    with pytest.raises(TypeError, match="'text_encoder' has type object"):
        config_to_dict(dataclasses.replace(CONFIG, text_encoder=object()))
    with pytest.raises(TypeError, match="dataclass instance"):
        config_to_dict(ModelConfig)


# ----- saving


def test_folder_holds_manifest_card_weights_and_extras(saved):
    folder, _net = saved
    assert sorted(os.listdir(folder)) == [CARD_FILE, "codec.safetensors", CONFIG_FILE, "dit.safetensors", "lexicon"]
    assert (folder / CARD_FILE).read_text(encoding="utf-8") == CARD
    assert (folder / "lexicon" / "words.tsv").read_text(encoding="utf-8") == "owl\tbird\n"
    manifest = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    assert manifest["format"] == "foleystudio-model"
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["components"] == ["codec", "dit"]
    assert manifest["config_type"].endswith("ModelConfig")
    assert manifest["config"] == config_to_dict(CONFIG)
    with safe_open(str(folder / "dit.safetensors"), framework="pt") as weights:
        metadata = weights.metadata()
    assert metadata["component"] == "dit"
    assert metadata["format"] == "foleystudio-model"
    assert metadata["format_version"] == str(FORMAT_VERSION)
    assert os.listdir(folder.parent) == [folder.name]  # no temporary folder left behind


def test_existing_folder_is_kept_unless_overwrite(saved):
    folder, _net = saved
    before = (folder / "dit.safetensors").read_bytes()
    with pytest.raises(OutputError, match="already exists"):
        save_model_folder(folder, CONFIG, {"dit": seeded_net(2)}, CARD)
    assert (folder / "dit.safetensors").read_bytes() == before
    replacement = seeded_net(2)
    save_model_folder(folder, CONFIG, {"dit": replacement}, "new card", overwrite=True)
    # The whole folder is replaced: files of the old model (codec, lexicon) do not linger.
    assert sorted(os.listdir(folder)) == [CARD_FILE, CONFIG_FILE, "dit.safetensors"]
    assert_same_state(load_state(folder, "dit", seeded_net(3), "cpu"), replacement)
    assert os.listdir(folder.parent) == [folder.name]


def test_overwrite_never_replaces_a_folder_that_is_not_a_model(tmp_path):
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    with pytest.raises(OutputError, match="not a model folder"):
        save_model_folder(precious, CONFIG, {"dit": seeded_net(1)}, CARD, overwrite=True)
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_destination_problems_are_output_errors(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a model folder"):
        save_model_folder(tmp_path / "a-file", CONFIG, {"dit": seeded_net(1)}, CARD, overwrite=True)
    with pytest.raises(OutputError, match="output folder does not exist"):
        save_model_folder(tmp_path / "missing" / "model", CONFIG, {"dit": seeded_net(1)}, CARD)


def test_failure_mid_write_leaves_old_model_and_no_temporary(saved, monkeypatch):
    folder, net = saved

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", full_disk)
    with pytest.raises(OutputError, match="could not be written \\(the disk is full\\)"):
        save_model_folder(folder, CONFIG, {"dit": seeded_net(2)}, CARD, overwrite=True)
    assert os.listdir(folder.parent) == [folder.name]
    assert_same_state(load_state(folder, "dit", seeded_net(3), "cpu"), net)


def test_bad_component_and_extra_names_are_refused_before_writing(tmp_path):
    target = tmp_path / "model"
    with pytest.raises(ValueError, match="component name '../dit'"):
        save_model_folder(target, CONFIG, {"../dit": seeded_net(1)}, CARD)
    with pytest.raises(ValueError, match="relative path"):
        save_model_folder(target, CONFIG, {"dit": seeded_net(1)}, CARD, {"../escape.txt": "x"})
    with pytest.raises(ValueError, match="would replace"):
        save_model_folder(target, CONFIG, {"dit": seeded_net(1)}, CARD, {"config.json": "{}"})
    with pytest.raises(ValueError, match="at least one component"):
        save_model_folder(target, CONFIG, {}, CARD)
    assert os.listdir(tmp_path) == []


# ----- loading


def test_round_trip_restores_exact_tensors(saved):
    folder, net = saved
    restored = load_state(folder, "dit", seeded_net(7), "cpu")
    assert_same_state(restored, net)
    # The tie between head and embedding survives (same values in both names).
    assert torch.equal(restored.head.weight, restored.embed.weight)


def test_load_casts_floating_tensors_only(saved):
    folder, net = saved
    restored = load_state(folder, "dit", seeded_net(7), torch.device("cpu"), dtype=torch.bfloat16)
    assert restored.proj.weight.dtype == torch.bfloat16
    assert torch.equal(restored.proj.weight, net.proj.weight.to(torch.bfloat16))
    assert restored.window.dtype == torch.bfloat16
    assert restored.positions.dtype == torch.int64
    assert torch.equal(restored.positions, torch.arange(5))


class Extended(TinyNet):
    def __init__(self):
        super().__init__()
        self.gate = nn.Linear(4, 1)


class Reduced(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)


def test_missing_tensor_is_named(saved):
    folder, _net = saved
    with pytest.raises(ModelError) as raised:
        load_state(folder, "dit", Extended(), "cpu")
    message = str(raised.value)
    assert message.startswith("model 'tiny-model': ")
    assert "dit.safetensors lacks 2 tensors the model expects: 'gate.weight', 'gate.bias'" in message


def test_unexpected_tensor_is_named(saved):
    folder, _net = saved
    with pytest.raises(ModelError, match=r"dit\.safetensors has 7 tensors the model does not know: 'head\.weight', 'norm\.bias', .*and 2 more"):
        load_state(folder, "dit", Reduced(), "cpu")


def test_shape_mismatch_names_tensor_and_both_shapes(saved):
    folder, _net = saved
    module = seeded_net(5, width=6)
    before = {key: value.clone() for key, value in module.state_dict().items()}
    with pytest.raises(ModelError) as raised:
        load_state(folder, "dit", module, "cpu", dtype=torch.bfloat16)
    message = str(raised.value)
    assert "model 'tiny-model'" in message and "dit.safetensors" in message
    assert "tensor 'embed.weight' has shape [10, 4] in the file, but the model expects [10, 6]" in message
    # Checked before copying or casting: a failed load leaves the module as it was.
    after = module.state_dict()
    assert all(after[key].dtype == before[key].dtype and torch.equal(after[key], before[key]) for key in before)


def test_integer_dtype_mismatch_is_refused(saved):
    folder, _net = saved
    module = seeded_net(5)
    module.positions = module.positions.to(torch.int32)
    with pytest.raises(ModelError, match="tensor 'positions' has dtype I64 in the file, but the model expects I32"):
        load_state(folder, "dit", module, "cpu")


def test_truncated_weights_are_reported_damaged(saved):
    folder, _net = saved
    path = folder / "dit.safetensors"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ModelError, match=r"model 'tiny-model': .*dit\.safetensors is damaged: "):
        load_state(folder, "dit", seeded_net(1), "cpu")


@pytest.mark.parametrize("garbage", [b"", b"abc", os.urandom(4096), b"\x10\x00\x00\x00\x00\x00\x00\x00{not json!!!!!}"])
def test_garbage_weights_are_reported_damaged(saved, garbage):
    folder, _net = saved
    (folder / "dit.safetensors").write_bytes(garbage)
    with pytest.raises(ModelError, match=r"dit\.safetensors is damaged: "):
        load_state(folder, "dit", seeded_net(1), "cpu")


def test_missing_weights_file_is_reported(saved):
    folder, _net = saved
    (folder / "codec.safetensors").unlink()
    with pytest.raises(ModelError, match=r"codec\.safetensors is missing \(the model folder is incomplete\)"):
        load_state(folder, "codec", nn.Linear(3, 2), "cpu")
    with pytest.raises(ModelError, match="codec.safetensors is missing"):
        verify_model_folder(folder)


def test_swapped_component_files_are_caught(saved):
    folder, _net = saved
    os.replace(folder / "codec.safetensors", folder / "dit.safetensors")
    with pytest.raises(ModelError, match="holds the 'codec' component, not 'dit'"):
        load_state(folder, "dit", seeded_net(1), "cpu")


def test_foreign_safetensors_file_is_refused(saved):
    folder, _net = saved
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(folder / "dit.safetensors"))
    with pytest.raises(ModelError, match="not a FoleyStudio weights file"):
        load_state(folder, "dit", seeded_net(1), "cpu")


# ----- config.json


def test_load_config_rebuilds_the_dataclass(saved):
    folder, _net = saved
    assert load_config(folder, ModelConfig) == CONFIG
    assert read_manifest(folder).components == ("codec", "dit")
    assert verify_model_folder(folder).name == "tiny-model"


@dataclasses.dataclass(frozen=True)
class GrownConfig(ModelConfig):
    """The config class after the code gained a field that older model folders lack."""

    guidance_video: float = 1.0


def test_config_that_does_not_fit_the_class_names_model_and_key(saved):
    folder, _net = saved
    with pytest.raises(ModelError, match=r"^model 'tiny-model': .*config\.json: missing key 'guidance_video'$"):
        load_config(folder, GrownConfig)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{ not json", r"config\.json: is damaged: not valid JSON"),
        ('{"format": "other"}', "not a FoleyStudio model configuration"),
        ('{"format": "foleystudio-model", "format_version": 99, "components": ["dit"], "config": {}}', "newer FoleyStudio"),
        ('{"format": "foleystudio-model", "format_version": 1, "components": [], "config": {}}', "components"),
        ('{"format": "foleystudio-model", "format_version": 1, "components": ["dit"]}', '"config" must be an object'),
    ],
)
def test_damaged_manifest_is_reported(saved, text, message):
    folder, _net = saved
    (folder / CONFIG_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ModelError, match=message):
        read_manifest(folder)


def test_folder_without_config_is_not_a_model(tmp_path):
    with pytest.raises(ModelError, match=r"not a model folder \(no config\.json\)"):
        read_manifest(tmp_path)
    with pytest.raises(ModelError, match="does not exist"):
        read_manifest(tmp_path / "nowhere")
