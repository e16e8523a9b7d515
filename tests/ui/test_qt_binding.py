"""The Qt binding keeps Python's reference counts straight.

PySide6 6.12.0 drops a reference to None on every call of a method that returns nothing
(``QWidget.update``, ``processEvents``, ...). On Python 3.11, where None is not immortal, the app
then dies with "Fatal Python error: none_dealloc" after a few thousand such calls, so FoleyStudio
pins a release without the fault. This test fails on a binding that has it.
"""

import sys

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget


def test_void_calls_do_not_drop_references_to_none(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    before = sys.getrefcount(None)
    for _ in range(1000):
        widget.update()
        QCoreApplication.processEvents()
    assert sys.getrefcount(None) - before > -50
