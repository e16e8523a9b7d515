"""Screenshots of the app for the README, taken from a real window (run under Xvfb):

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python packaging/screenshots.py [OUT_DIR]

Opens the main window on a fresh copy of the demo project, plays a second, selects the footsteps
layer and a few of its breakpoints, then saves the main window, the curve editor and the export
dialog as PNG (default: resources/screenshots/).
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foleystudio.demo_project import ensure_demo_project  # noqa: E402
from foleystudio.project.store import load_project  # noqa: E402
from foleystudio.ui.app import application, install_error_handling  # noqa: E402
from foleystudio.ui.export_dialog import ExportDialog  # noqa: E402
from foleystudio.ui.main_window import MainWindow  # noqa: E402
from foleystudio.ui.session import Session  # noqa: E402
from foleystudio.ui.settings import AppSettings  # noqa: E402
from foleystudio.ui.theme import apply_theme  # noqa: E402


def settle(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "resources" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    app = application()
    install_error_handling()
    apply_theme(app)
    with tempfile.TemporaryDirectory() as folder:
        project = load_project(ensure_demo_project(Path(folder) / "demo"))
        window = MainWindow(Session(project), AppSettings(Path(folder) / "settings.ini"))
        window.resize(1600, 1000)
        window.show()
        settle(app, 1.0)
        window.player.play()
        settle(app, 1.2)
        window.player.pause()
        window.session.set_playhead(4.1)
        editor = window.curve_editor
        editor.set_selection(0, [3, 4, 5])
        settle(app, 0.8)
        window.grab().save(str(out / "main_window.png"))
        editor.grab().save(str(out / "curve_editor.png"))
        dialog = ExportDialog(window.session, window)
        dialog.folder_edit.setText(str(Path.home() / "Stems" / "Scene 12"))
        dialog.show()
        settle(app, 0.8)
        dialog.grab().save(str(out / "export_dialog.png"))
        dialog.close()
        window.files.ask_discard = lambda doing: "discard"
        window.close()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
