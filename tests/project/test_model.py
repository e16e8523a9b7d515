"""Layer, Take, Project and ExportSettings: defaults, validation and change events."""

from datetime import datetime, timedelta, timezone
from fractions import Fraction

import numpy as np
import pytest

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.errors import UserInputError
from foleystudio.project import (
    ExportSettings,
    FieldChange,
    FieldsChanged,
    FrozenMapping,
    Layer,
    LayerAdded,
    LayerMoved,
    LayerRemoved,
    LayerRole,
    MediaReference,
    Project,
    Take,
    TakeAdded,
    TakeRemoved,
    TakeReplaced,
)
from foleystudio.project import layer as layer_module


def record(event):
    calls = []
    event.connect(calls.append)
    return calls


def a_take(name="take", take_id=None, **fields):
    values = dict(name=name, audio=MediaReference("/media/take.wav"), model_id="tiny", parameters={"seed": 1})
    if take_id is not None:
        values["id"] = take_id
    values.update(fields)
    return Take(**values)


# ---- defaults -----------------------------------------------------------------------------------
def test_new_layer_defaults_cover_the_video_at_minus_23_lufs_six_hertz():
    project = Project(video_duration_s=12.5, frame_rate=Fraction(30000, 1001))
    layer = project.new_layer("Footsteps")
    assert layer.role is LayerRole.ON_SCREEN
    assert layer.follow_video is True
    assert len(layer.curve) == 75  # 12.5 s * 6 frames/s
    assert layer.curve.times[1] == pytest.approx(1 / 6)
    assert np.all(layer.curve.left == -23.0) and np.all(layer.curve.right == -23.0)
    assert layer.curves_linked is True
    assert (layer.video_guidance, layer.text_guidance, layer.audio_guidance) == (2.5, 2.5, 2.5)
    assert (layer.steps, layer.variations, layer.loudness_adherence) == (25, 2, 0.8)
    assert (layer.mute, layer.solo, layer.gain_db, layer.takes, layer.selected_take_id) == (False, False, 0.0, (), None)


@pytest.mark.parametrize("role", [LayerRole.OFF_SCREEN, LayerRole.AMBIENCE, "ambience"])
def test_layers_not_on_screen_do_not_follow_the_video_by_default(role):
    assert Layer.new("Wind", role, 5.0).follow_video is False


def test_export_defaults_are_48k_24_bit():
    settings = ExportSettings()
    assert (settings.sample_rate, settings.bit_depth, settings.is_float) == (48000, 24, False)
    assert ExportSettings(bit_depth=32).is_float


# ---- layer validation ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "layer name must not be empty"),
        ("name", "   ", "layer name must not be empty"),
        ("name", 12, "layer name must be text"),
        ("name", "x" * 81, "at most 80"),
        ("role", "foley", "unknown layer role 'foley' (expected one of: on-screen, off-screen, ambience)"),
        ("steps", -1, "steps must be between 1 and 1000, got -1"),
        ("steps", 0, "steps must be between 1 and 1000, got 0"),
        ("steps", 2.5, "steps must be a whole number"),
        ("variations", 0, "variations must be between 1 and 8, got 0"),
        ("variations", 9, "variations must be between 1 and 8, got 9"),
        ("gain_db", 12.5, "gain (dB) must be between -60 and 12, got 12.5"),
        ("gain_db", -61, "gain (dB) must be between -60 and 12"),
        ("video_guidance", float("nan"), "video guidance must be between 0 and 20"),
        ("text_guidance", -0.1, "text guidance must be between 0 and 20"),
        ("audio_guidance", "high", "reference-audio guidance must be a number"),
        ("loudness_adherence", 1.01, "loudness adherence must be between 0 and 1"),
        ("reference_likeness", -0.5, "reference likeness must be between 0 and 1"),
        ("seed", -1, "seed must be between 0 and 4294967295"),
        ("seed", 2**32, "seed must be between 0 and 4294967295"),
        ("mute", 1, "mute must be true or false, got 1"),
        ("curve", [-23.0], "loudness curve must be a LoudnessCurve"),
        ("reference_audio", "/x.wav", "reference audio must be a MediaReference or None"),
        ("on_screen_prompt", "x" * 1001, "on-screen prompt is 1001 characters long"),
    ],
)
def test_update_rejects_bad_values_with_a_precise_message(field, value, message):
    layer = Layer.new("Footsteps", duration_s=2.0)
    calls = record(layer.changed)
    before = getattr(layer, field)
    with pytest.raises(UserInputError) as caught:
        layer.update(**{field: value})
    assert message in str(caught.value)
    assert getattr(layer, field) == before
    assert calls == []


def test_construction_validates_the_same_way():
    with pytest.raises(UserInputError, match="layer 'Steps': variations must be between 1 and 8, got 12"):
        Layer.new("Steps", duration_s=1.0, variations=12)
    with pytest.raises(UserInputError, match="layer id must be non-empty text"):
        Layer.new("Steps", duration_s=1.0, id="")


def test_update_is_all_or_nothing():
    layer = Layer.new("Footsteps", duration_s=2.0)
    with pytest.raises(UserInputError, match="steps"):
        layer.update(name="Boots", steps=-3)
    assert layer.name == "Footsteps"


def test_update_refuses_unknown_and_fixed_fields():
    layer = Layer.new("Footsteps", duration_s=2.0)
    with pytest.raises(UserInputError, match="no field named 'colour'"):
        layer.update(colour="red")
    with pytest.raises(UserInputError, match="id never changes"):
        layer.update(id="other")
    with pytest.raises(UserInputError, match="add_take"):
        layer.update(takes=())


def test_fields_cannot_be_assigned_directly():
    layer = Layer.new("Footsteps", duration_s=2.0)
    with pytest.raises(AttributeError, match="update"):
        layer.steps = 10
    project = Project()
    with pytest.raises(AttributeError, match="Project methods"):
        project.video_duration_s = 3.0
    assert layer.steps == 25 and project.video_duration_s == 10.0


def test_unknown_role_in_constructor():
    with pytest.raises(UserInputError, match="unknown layer role 'narration'"):
        Layer(name="Voice", role="narration", curve=LoudnessCurve.constant(1.0, -23.0))


# ---- layer change events -------------------------------------------------------------------------
def test_update_emits_old_and_new_of_each_changed_field_only():
    layer = Layer.new("Footsteps", duration_s=2.0)
    calls = record(layer.changed)
    changes = layer.update(name="Boots", steps=25, seed=7, role="off-screen")
    assert changes == (
        FieldChange("name", "Footsteps", "Boots"),
        FieldChange("seed", 0, 7),
        FieldChange("role", LayerRole.ON_SCREEN, LayerRole.OFF_SCREEN),
    )
    assert calls == [FieldsChanged(layer, changes)]
    assert calls[0].names == {"name", "seed", "role"}
    assert layer.role is LayerRole.OFF_SCREEN


def test_no_op_updates_emit_nothing():
    layer = Layer.new("Footsteps", duration_s=2.0)
    layer.update(video_guidance=3.0)
    calls = record(layer.changed)
    assert layer.update() == ()
    assert layer.update(name="  Footsteps ", video_guidance=3, curve=LoudnessCurve.constant(2.0, -23.0)) == ()
    assert calls == []


def test_a_change_can_be_undone_from_its_old_values():
    layer = Layer.new("Footsteps", duration_s=2.0)
    new_curve = LoudnessCurve.constant(2.0, -12.0)
    changes = layer.update(curve=new_curve, gain_db=-3.0)
    assert layer.curve == new_curve
    layer.update(**{change.name: change.old for change in changes})
    assert layer.curve == LoudnessCurve.constant(2.0, -23.0) and layer.gain_db == 0.0


# ---- takes ---------------------------------------------------------------------------------------
def test_take_events_add_select_replace_remove():
    layer = Layer.new("Footsteps", duration_s=2.0)
    added, removed, replaced, changed = (record(e) for e in (layer.take_added, layer.take_removed, layer.take_replaced, layer.changed))
    first, second, third = a_take("one", "t1"), a_take("two", "t2"), a_take("three", "t3")
    assert layer.add_take(first) == 0
    assert layer.add_take(second) == 1
    assert layer.add_take(third, index=0) == 0
    assert [take.id for take in layer.takes] == ["t3", "t1", "t2"]
    assert added == [TakeAdded(layer, first, 0), TakeAdded(layer, second, 1), TakeAdded(layer, third, 0)]

    layer.select_take("t1")
    assert layer.selected_take is first
    assert changed[-1].changes == (FieldChange("selected_take_id", None, "t1"),)

    renamed = Take(id="t1", name="one (kept)", audio=first.audio, model_id="tiny")
    assert layer.replace_take(renamed) is first
    assert replaced == [TakeReplaced(layer, first, renamed, 1)]

    assert layer.remove_take("t1") == (renamed, 1)
    assert layer.selected_take_id is None
    assert changed[-1].changes == (FieldChange("selected_take_id", "t1", None),)
    assert removed == [TakeRemoved(layer, renamed, 1)]
    assert [take.id for take in layer.takes] == ["t3", "t2"]


def test_take_errors():
    layer = Layer.new("Footsteps", duration_s=2.0)
    layer.add_take(a_take("one", "t1"))
    with pytest.raises(UserInputError, match="two takes have the id 't1'"):
        layer.add_take(a_take("again", "t1"))
    with pytest.raises(UserInputError, match="selected take 'nope' is not one of its takes"):
        layer.select_take("nope")
    with pytest.raises(UserInputError, match="has no take with id 'nope'"):
        layer.remove_take("nope")
    with pytest.raises(UserInputError, match="index must be a whole number between 0 and 1"):
        layer.add_take(a_take("two", "t2"), index=5)
    with pytest.raises(UserInputError, match="selected take 'zz' is not one of its takes"):
        Layer.new("Steps", duration_s=1.0, takes=(a_take("one", "t1"),), selected_take_id="zz")
    assert len(layer.takes) == 1


def test_take_parameters_are_deeply_frozen_and_hashable():
    take = a_take(parameters={"prompt": "door", "seeds": [1, 2], "curve": LoudnessCurve.constant(1.0, -20.0), "more": {"a": [1]}})
    assert isinstance(take.parameters, FrozenMapping)
    assert take.parameters["seeds"] == (1, 2)
    assert take.parameters["more"]["a"] == (1,)
    with pytest.raises(TypeError):
        take.parameters["prompt"] = "window"
    assert hash(take) == hash(a_take(id=take.id, created=take.created, parameters=take.parameters.thaw()))
    assert take.parameters.thaw()["more"] == {"a": [1]}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "take name must not be empty"),
        ({"parameters": {"x": object()}}, "parameter x cannot be stored in a project"),
        ({"parameters": {"x": float("inf")}}, "parameter x must be a finite number"),
        ({"parameters": ["seed"]}, "parameters must be a mapping"),
        ({"created": datetime(2025, 1, 1)}, "must say its time zone"),
        ({"audio": "/media/take.wav"}, "audio must be a MediaReference"),
        ({"model_id": ""}, "model id must not be empty"),
    ],
)
def test_take_validation(fields, message):
    with pytest.raises(UserInputError, match=message):
        a_take(**fields)


def test_take_created_time_is_kept_in_utc():
    paris = timezone(timedelta(hours=1))
    take = a_take(created=datetime(2025, 3, 1, 10, 30, tzinfo=paris))
    assert take.created == datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)
    assert take.created.tzinfo is timezone.utc


def test_generation_parameters_snapshot_is_storable_in_a_take():
    layer = Layer.new("Footsteps", duration_s=2.0, on_screen_prompt="boots", seed=99)
    parameters = layer.generation_parameters()
    take = a_take(parameters={**parameters, "model_id": "tiny"})
    assert take.parameters["seed"] == 99
    assert take.parameters["curve"] == layer.curve
    assert take.parameters["on_screen_prompt"] == "boots"


# ---- project -----------------------------------------------------------------------------------
def test_layer_list_events_and_dirty_tracking():
    project = Project(video_duration_s=4.0)
    added, removed, moved, dirty, edited = (
        record(e) for e in (project.layer_added, project.layer_removed, project.layer_moved, project.dirty_changed, project.edited)
    )
    a = project.new_layer("A")
    b = project.new_layer("B")
    c = project.add_layer(Layer.new("C", duration_s=4.0), index=0)
    assert [layer.name for layer in project.layers] == ["C", "A", "B"]
    assert added == [LayerAdded(a, 0), LayerAdded(b, 1), LayerAdded(c, 0)]
    assert dirty == [True] and project.dirty

    project.move_layer(c.id, 2)
    project.move_layer(c.id, 2)  # already there: nothing
    assert [layer.name for layer in project.layers] == ["A", "B", "C"]
    assert moved == [LayerMoved(c, 0, 2)]

    assert project.remove_layer(a.id) == (a, 0)
    assert removed == [LayerRemoved(a, 0)]
    assert edited == [LayerAdded(a, 0), LayerAdded(b, 1), LayerAdded(c, 0), LayerMoved(c, 0, 2), LayerRemoved(a, 0)]


def test_layer_edits_make_the_project_dirty_and_removed_layers_no_longer_do(tmp_path):
    project = Project()
    layer = project.new_layer("A")
    project.mark_saved(tmp_path / "p.foley")
    dirty = record(project.dirty_changed)
    edited = record(project.edited)
    layer.update(gain_db=-3.0)
    assert project.dirty and dirty == [True]
    assert edited == [FieldsChanged(layer, (FieldChange("gain_db", 0.0, -3.0),))]
    project.remove_layer(layer.id)
    project.mark_saved(tmp_path / "p.foley")
    layer.update(gain_db=-6.0)
    assert not project.dirty and dirty == [True, False]


def test_mark_saved_clears_dirty_and_emits_saved(tmp_path):
    project = Project()
    saved = record(project.saved)
    project.new_layer("A")
    project.mark_saved(tmp_path / "Scene.foley")
    assert saved == [tmp_path / "Scene.foley"]
    assert not project.dirty
    assert project.name == "Scene" and project.folder == tmp_path


def test_duplicate_layer_goes_after_the_original_with_a_new_id_and_name():
    project = Project()
    original = project.new_layer("Steps", seed=5)
    project.new_layer("Wind", LayerRole.AMBIENCE)
    original.add_take(a_take("one", "t1"))
    copy = project.duplicate_layer(original.id)
    second = project.duplicate_layer(original.id)
    assert [layer.name for layer in project.layers] == ["Steps", "Steps copy 2", "Steps copy", "Wind"]
    assert copy.id != original.id and copy.seed == 5 and copy.takes == original.takes
    copy.update(seed=6)
    assert original.seed == 5 and second.seed == 5


def test_project_validation():
    layer = Layer.new("A", duration_s=1.0)
    with pytest.raises(UserInputError, match="two layers have the id"):
        Project(layers=(layer, layer))
    project = Project(layers=(layer,))
    with pytest.raises(UserInputError, match="two layers have the id"):
        project.add_layer(layer)
    with pytest.raises(UserInputError, match="exact fraction such as 24000/1001, got 23.976"):
        project.update(frame_rate=23.976)
    with pytest.raises(UserInputError, match="video duration"):
        project.update(video_duration_s=0)
    with pytest.raises(UserInputError, match="no layer with id 'x'"):
        project.remove_layer("x")
    with pytest.raises(UserInputError, match="between 0 and 0"):
        project.move_layer(layer.id, 1)
    with pytest.raises(UserInputError, match="no field named 'layers'"):
        project.update(layers=())
    assert project.layers == (layer,) and not project.dirty


def test_project_update_events():
    project = Project()
    changed = record(project.changed)
    assert project.update(frame_rate=Fraction(24), video_duration_s=10) == ()
    changes = project.update(frame_rate=Fraction(30000, 1001), export=ExportSettings(sample_rate=44100))
    assert changes == (
        FieldChange("frame_rate", Fraction(24), Fraction(30000, 1001)),
        FieldChange("export", ExportSettings(), ExportSettings(sample_rate=44100)),
    )
    assert changed == [FieldsChanged(project, changes)]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sample_rate": 22050}, "export sample rate must be one of 44100, 48000, got 22050"),
        ({"sample_rate": 48000.0}, "export sample rate must be a whole number"),
        ({"bit_depth": 16}, "export bit depth must be one of 24, 32, got 16"),
        ({"stem_naming": "random"}, "unknown stem naming 'random'"),
        ({"creator_id": "J_D"}, "creator id may hold up to 32 letters, digits and hyphens"),
        ({"mixdown": "yes"}, "export mixdown must be true or false"),
    ],
)
def test_export_settings_validation(fields, message):
    with pytest.raises(UserInputError, match=message.replace("(", r"\(")):
        ExportSettings(**fields)


def test_layer_limits_are_named_constants():
    assert layer_module.VARIATIONS_RANGE == (1, 8)
    assert layer_module.DEFAULT_CURVE_LUFS == -23.0
