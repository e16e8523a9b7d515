"""The desktop application (PySide6 + pyqtgraph): the only package that imports Qt.

Views are built from the project document (``foleystudio.project``) through one `session.Session`,
which owns the open project, its undo stack and the selection; every edit goes through an undoable
command (``commands``). ``worker`` is the one bridge between the engine's step generator and Qt.
"""
