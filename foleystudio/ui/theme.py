"""A dark theme: sound designers work in dim rooms next to a picture monitor."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

_COLOURS = {
    QPalette.ColorRole.Window: QColor(40, 42, 48),
    QPalette.ColorRole.WindowText: QColor(220, 220, 224),
    QPalette.ColorRole.Base: QColor(28, 30, 34),
    QPalette.ColorRole.AlternateBase: QColor(44, 46, 52),
    QPalette.ColorRole.ToolTipBase: QColor(250, 250, 220),
    QPalette.ColorRole.ToolTipText: QColor(20, 20, 20),
    QPalette.ColorRole.Text: QColor(220, 220, 224),
    QPalette.ColorRole.Button: QColor(52, 55, 62),
    QPalette.ColorRole.ButtonText: QColor(225, 225, 230),
    QPalette.ColorRole.Highlight: QColor(64, 132, 214),
    QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
    QPalette.ColorRole.PlaceholderText: QColor(140, 140, 150),
}


def apply_theme(app: QApplication) -> None:
    palette = QPalette()
    for role, colour in _COLOURS.items():
        palette.setColor(role, colour)
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(120, 120, 128))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(120, 120, 128))
    app.setPalette(palette)
    pg.setConfigOptions(background=(28, 30, 34), foreground=(200, 200, 205), antialias=True)
