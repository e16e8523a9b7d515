"""The Export dialog, driven through its real widgets offscreen: plan, rename, export, report, overwrite."""

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemDelegate, QLineEdit

from foleystudio.audio.io import read_audio
from foleystudio.audio.loudness import measure
from foleystudio.project.media import MediaReference
from foleystudio.project.settings import ExportSettings, StemNaming
from foleystudio.ui.export_dialog import (
    LOUDNESS,
    NAME,
    PEAK,
    STATUS,
    STATUS_EXISTS,
    STATUS_NEW,
    ExportDialog,
)
from foleystudio.ui.session import Session
from tests.media import make_video
from tests.test_export import DURATION_S, build_project


@pytest.fixture
def session(tmp_path):
    return Session(build_project(tmp_path))


class Answers:
    """Stands in for the dialog's message boxes and records what they were asked."""

    def __init__(self, overwrite=True):
        self.overwrite = overwrite
        self.asked: list = []
        self.errors: list[str] = []

    def install(self, dialog):
        dialog.confirm_overwrite = lambda paths: self.asked.append(list(paths)) or self.overwrite
        dialog.show_error = self.errors.append


def make_dialog(qtbot, session, answers):
    dialog = ExportDialog(session)
    qtbot.addWidget(dialog)
    answers.install(dialog)
    dialog.show()
    return dialog


def type_into(qtbot, edit: QLineEdit, text: str):
    edit.selectAll()
    QTest.keyClick(edit, Qt.Key.Key_Delete)
    QTest.keyClicks(edit, text)


def column(dialog, index):
    return [dialog.table.item(row, index).text() for row in range(dialog.table.rowCount())]


def test_fields_plan_the_files_and_export_writes_them_with_a_report(qtbot, session, tmp_path):
    answers = Answers()
    dialog = make_dialog(qtbot, session, answers)
    out = tmp_path / "out"
    type_into(qtbot, dialog.folder_edit, str(out))
    dialog.rate_combo.setCurrentIndex(dialog.rate_combo.findData(48000))
    dialog.depth_combo.setCurrentIndex(dialog.depth_combo.findData(32))
    type_into(qtbot, dialog.creator_edit, "JD_!")  # the validator keeps UCS ids clean
    type_into(qtbot, dialog.source_edit, "Show")
    assert dialog.creator_edit.text() == "JD"
    assert column(dialog, NAME) == [
        "FOLYFeet_Steps on gravel_JD_Show.wav",
        "AMBMisc_Wind_JD_Show.wav",
        "DSGNMisc_Dog bark_JD_Show.wav",
        "Show_Mixdown.wav",
    ]
    assert column(dialog, STATUS) == [STATUS_NEW] * 4
    assert not dialog.review_check.isEnabled()  # no video

    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)

    assert answers.errors == [] and answers.asked == []
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(column(dialog, NAME))
    for row, name in enumerate(column(dialog, NAME)):
        info = sf.info(out / name)
        assert (info.samplerate, info.subtype, info.frames) == (48000, "FLOAT", DURATION_S * 48000)
        measured = measure(*read_audio(out / name))
        assert float(dialog.table.item(row, LOUDNESS).text()) == pytest.approx(measured.integrated_lufs, abs=0.06)
        assert float(dialog.table.item(row, PEAK).text()) == pytest.approx(measured.true_peak_dbtp, abs=0.06)
    assert session.project.export == ExportSettings(sample_rate=48000, bit_depth=32, creator_id="JD", source_id="Show")


def test_settings_are_stored_only_when_exporting(qtbot, session, tmp_path):
    edits = []
    session.edited.connect(edits.append)
    dialog = make_dialog(qtbot, session, Answers())
    type_into(qtbot, dialog.folder_edit, str(tmp_path / "out"))
    dialog.naming_combo.setCurrentIndex(dialog.naming_combo.findData(StemNaming.LAYER_NAME))
    dialog.reject()
    assert session.project.export == ExportSettings() and edits == []


def test_a_renamed_file_is_sanitised_and_written_under_that_name(qtbot, session, tmp_path):
    dialog = make_dialog(qtbot, session, Answers())
    type_into(qtbot, dialog.folder_edit, str(tmp_path))
    dialog.naming_combo.setCurrentIndex(dialog.naming_combo.findData(StemNaming.LAYER_NAME))
    dialog.mixdown_check.setChecked(False)
    # Rename through the cell editor, as a double-click and typing would.
    index = dialog.table.model().index(1, NAME)
    dialog.table.setCurrentIndex(index)
    dialog.table.edit(index)
    editor = dialog.table.findChild(QLineEdit)
    editor.setText("Wind: gusts/far")
    dialog.table.commitData(editor)
    dialog.table.closeEditor(editor, QAbstractItemDelegate.EndEditHint.NoHint)
    assert column(dialog, NAME) == ["Steps on gravel.wav", "Wind- gusts-far.wav", "Dog bark.wav"]
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert (tmp_path / "Wind- gusts-far.wav").is_file()


def test_existing_files_need_confirmation(qtbot, session, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    answers = Answers(overwrite=False)
    dialog = make_dialog(qtbot, session, answers)
    dialog.naming_combo.setCurrentIndex(dialog.naming_combo.findData(StemNaming.LAYER_NAME))
    type_into(qtbot, dialog.folder_edit, str(out))
    (out / "Wind.wav").write_bytes(b"keep me")
    dialog.refresh()
    assert column(dialog, STATUS)[1] == STATUS_EXISTS and column(dialog, STATUS)[0] == STATUS_NEW

    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)  # the user says No
    assert answers.asked == [[out / "Wind.wav"]]
    assert sorted(p.name for p in out.iterdir()) == ["Wind.wav"] and (out / "Wind.wav").read_bytes() == b"keep me"
    assert session.project.export == ExportSettings()

    answers.overwrite = True
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert sf.info(out / "Wind.wav").frames == DURATION_S * 48000
    assert column(dialog, STATUS) == ["written", "replaced", "written", "written"]


def test_errors_are_shown_not_raised(qtbot, session, tmp_path):
    answers = Answers()
    dialog = make_dialog(qtbot, session, answers)
    type_into(qtbot, dialog.folder_edit, str(tmp_path / "out"))
    (tmp_path / "dog.wav").unlink()
    dialog.refresh()
    assert "Dog bark" in dialog.message_label.text()
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert len(answers.errors) == 1 and "Dog bark" in answers.errors[0]
    assert not (tmp_path / "out").exists()


def test_an_unwritable_folder_is_reported(qtbot, session, tmp_path):
    answers = Answers()
    dialog = make_dialog(qtbot, session, answers)
    (tmp_path / "file").write_bytes(b"")
    type_into(qtbot, dialog.folder_edit, str(tmp_path / "file" / "out"))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert len(answers.errors) == 1 and "is a file" in answers.errors[0]


def test_browse_fills_the_folder(qtbot, session, tmp_path):
    dialog = make_dialog(qtbot, session, Answers())
    dialog.choose_folder = lambda start: str(tmp_path / "picked")
    qtbot.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    assert dialog.folder_edit.text() == str(tmp_path / "picked")
    assert dialog.plan.folder == tmp_path / "picked"


def test_review_mp4_with_a_video(qtbot, session, tmp_path):
    video = make_video(tmp_path / "clip.mp4", seconds=DURATION_S)
    session.project.update(video=MediaReference.for_file(video))
    dialog = make_dialog(qtbot, session, Answers())
    assert dialog.review_check.isEnabled()
    type_into(qtbot, dialog.folder_edit, str(tmp_path / "out"))
    type_into(qtbot, dialog.source_edit, "S")
    check = dialog.review_check
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(4, check.height() // 2))
    assert column(dialog, NAME)[-1] == "S_Review.mp4"
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert (tmp_path / "out" / "S_Review.mp4").stat().st_size > 0
    assert session.project.export.review_video
    assert np.isfinite(float(column(dialog, LOUDNESS)[0]))


def test_a_bare_project_works_too(qtbot, tmp_path):
    project = build_project(tmp_path)
    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    Answers().install(dialog)
    type_into(qtbot, dialog.folder_edit, str(tmp_path / "out"))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert len(list((tmp_path / "out").iterdir())) == 4 and dialog.report is not None


def test_files_above_minus_one_dbtp_are_pointed_out(qtbot, session, tmp_path):
    dialog = make_dialog(qtbot, session, Answers())
    dialog.folder_edit.setText(str(tmp_path / "quiet"))
    dialog.export()
    assert "dBTP" not in dialog.message_label.text()
    session.project.layers[0].update(gain_db=12.0)  # a 0.3 sine at +12 dB peaks at +1.6 dBTP
    dialog.folder_edit.setText(str(tmp_path / "hot"))
    dialog.refresh()
    dialog.export()
    message = dialog.message_label.text()
    assert "2 above -1 dBTP" in message and "Steps on gravel" in message and "Mixdown" in message
