"""The desktop application (PySide6 + pyqtgraph), built from the project model."""
