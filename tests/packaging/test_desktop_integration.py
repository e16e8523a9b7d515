"""Linux desktop integration: the .desktop entry, the MIME type, the installer, PortAudio's hook.

The files must agree with each other and with the app: the entry runs the bundle's program with a
command that opens a project, names an icon we ship and the MIME type the XML declares, whose glob
is the project files' real extension.
"""

import configparser
import ctypes.util
import fnmatch
import json
import os
import runpy
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from foleystudio.cli import build_parser
from foleystudio.logs import APP_NAME
from foleystudio.project.document import Project
from foleystudio.project.paths import PROJECT_SUFFIX
from foleystudio.project.store import save_project
from tests.packaging._load import PACKAGING, ROOT, load

layout = load("bundle_layout")
DESKTOP_FILE = PACKAGING / "linux" / f"{layout.DESKTOP_ID}.desktop"
MIME_FILE = PACKAGING / "linux" / f"{layout.DESKTOP_ID}.xml"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"
# Keys of the Desktop Entry Specification 1.4 (what desktop-file-validate on Debian 12 knows) that an
# application entry may use.
KNOWN_KEYS = {
    "Type", "Version", "Name", "GenericName", "NoDisplay", "Comment", "Icon", "Hidden", "OnlyShowIn",
    "NotShowIn", "DBusActivatable", "TryExec", "Exec", "Path", "Terminal", "Actions", "MimeType",
    "Categories", "Implements", "Keywords", "StartupNotify", "StartupWMClass", "URL", "PrefersNonDefaultGPU",
}
MAIN_CATEGORIES = {"AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics",
                   "Network", "Office", "Science", "Settings", "System", "Utility"}


def desktop_entry() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(DESKTOP_FILE.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def mime_type_element() -> ET.Element:
    root = ET.parse(MIME_FILE).getroot()
    assert root.tag == f"{MIME_NS}mime-info"
    (mime_type,) = root.findall(f"{MIME_NS}mime-type")
    return mime_type


def test_the_desktop_entry_uses_only_known_keys_and_required_values():
    entry = desktop_entry()
    assert set(entry) <= KNOWN_KEYS, f"unknown keys: {set(entry) - KNOWN_KEYS}"
    assert entry["Type"] == "Application" and entry["Name"] == APP_NAME
    assert entry["Version"] in {"1.0", "1.1", "1.2", "1.3", "1.4"}
    assert entry["Terminal"] == "false"
    categories = entry["Categories"].split(";")
    assert categories[-1] == "", "Categories must end with ';'"
    assert MAIN_CATEGORIES & set(categories), "Categories needs a main category"
    assert entry["MimeType"].endswith(";")


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_file_validate_accepts_the_entry():
    done = subprocess.run(["desktop-file-validate", str(DESKTOP_FILE)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_the_entry_runs_the_bundled_program_with_a_command_that_opens_the_file():
    entry = desktop_entry()
    words = shlex.split(entry["Exec"])
    assert words[0] == layout.EXECUTABLE == entry["TryExec"]
    field_codes = [word for word in words if word.startswith("%")]
    assert field_codes == ["%f"], "one file at a time: the app opens one project"
    # What the desktop runs for a double-clicked project must parse as opening that project.
    args = build_parser().parse_args([w.replace("%f", "/tmp/Scene 12.foley") for w in words[1:]])
    assert args.command == "open" and args.project == "/tmp/Scene 12.foley"
    # From the menu there is no file: %f expands to nothing, and the app opens (the demo project).
    assert build_parser().parse_args([w for w in words[1:] if w != "%f"]).project is None


def test_the_entry_names_our_icon_the_window_class_and_the_desktop_file_name_the_app_sets():
    from foleystudio.ui import app

    entry = desktop_entry()
    assert entry["Icon"] == layout.DESKTOP_ID
    assert (ROOT / "resources" / "icons" / f"{entry['Icon']}.svg").is_file()
    assert entry["StartupWMClass"] == APP_NAME  # Qt's X11 window class is the application name
    assert app.DESKTOP_FILE_NAME == DESKTOP_FILE.stem  # Wayland matches windows by it


def test_the_mime_xml_declares_the_type_the_entry_handles_for_the_project_extension():
    mime_type = mime_type_element()
    assert mime_type.get("type") == layout.PROJECT_MIME_TYPE
    assert desktop_entry()["MimeType"].split(";")[:-1] == [layout.PROJECT_MIME_TYPE]
    globs = [glob.get("pattern") for glob in mime_type.findall(f"{MIME_NS}glob")]
    assert globs == [f"*{PROJECT_SUFFIX}"] and PROJECT_SUFFIX == f".{layout.PROJECT_EXTENSION}"
    assert fnmatch.fnmatch(f"Scene 12{PROJECT_SUFFIX}", globs[0])
    assert not fnmatch.fnmatch(f"Scene 12{PROJECT_SUFFIX}.autosave", globs[0])
    assert mime_type.find(f"{MIME_NS}icon").get("name") == layout.DESKTOP_ID
    assert mime_type.find(f"{MIME_NS}comment").text


@pytest.mark.skipif(shutil.which("update-mime-database") is None, reason="shared-mime-info not installed")
def test_shared_mime_info_compiles_the_type_with_its_glob_and_icon(tmp_path):
    mime = tmp_path / "mime"  # inside XDG_DATA_HOME, as install.sh puts it (else the tool adds a note)
    (mime / "packages").mkdir(parents=True)
    shutil.copy(MIME_FILE, mime / "packages" / MIME_FILE.name)
    done = subprocess.run(["update-mime-database", str(mime)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "XDG_DATA_HOME": str(tmp_path)})
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr  # parse errors go to stderr
    assert f"50:{layout.PROJECT_MIME_TYPE}:*{PROJECT_SUFFIX}" in (mime / "globs2").read_text().splitlines()
    assert f"{layout.PROJECT_MIME_TYPE}:{layout.DESKTOP_ID}" in (mime / "icons").read_text().splitlines()
    assert f"{layout.PROJECT_MIME_TYPE} application/json" in (mime / "subclasses").read_text().splitlines()


def test_a_saved_project_is_the_json_the_mime_type_says_it_is(tmp_path):
    assert mime_type_element().find(f"{MIME_NS}sub-class-of").get("type") == "application/json"
    path = save_project(Project(), tmp_path / f"Scene{PROJECT_SUFFIX}")
    assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)


@pytest.fixture
def fake_bundle(tmp_path):
    """A bundle folder as build.py leaves it, with a stand-in program instead of PyInstaller's."""
    bundle = tmp_path / "foleystudio"
    (bundle / "_internal").mkdir(parents=True)
    program = bundle / layout.EXECUTABLE
    program.write_text("#!/bin/sh\necho FoleyStudio fake\n")
    program.chmod(0o755)
    load("build").stage_linux_integration(bundle)
    return bundle


def run_installer(script: Path, prefix: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"HOME": str(prefix.parent), "PREFIX": str(prefix), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return subprocess.run(["bash", str(script), *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("bash") is None, reason="Linux installer")
def test_install_sh_installs_the_program_entry_icons_and_mime_type_and_uninstalls_them(fake_bundle, tmp_path):
    prefix = tmp_path / "home" / ".local"
    done = run_installer(fake_bundle / "install.sh", prefix)
    assert done.returncode == 0, done.stderr
    share = prefix / "share"
    program = prefix / "lib" / "foleystudio" / layout.EXECUTABLE
    assert program.is_file() and (prefix / "bin" / "foleystudio").resolve() == program.resolve()
    exec_line = next(line for line in (share / "applications" / "foleystudio.desktop").read_text().splitlines()
                     if line.startswith("Exec="))
    assert shlex.split(exec_line[len("Exec="):]) == [str(program), "open", "%f"]
    for size in load("make_icons").PNG_SIZES:
        assert (share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "foleystudio.png").is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / "foleystudio.svg").is_file()
    assert (share / "mime" / "packages" / "foleystudio.xml").read_bytes() == MIME_FILE.read_bytes()

    done = run_installer(prefix / "lib" / "foleystudio" / "install.sh", prefix, "--uninstall")
    assert done.returncode == 0, done.stderr
    assert not (prefix / "lib" / "foleystudio").exists() and not (prefix / "bin" / "foleystudio").exists()
    assert not list(share.rglob("foleystudio*"))


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("bash") is None, reason="Linux installer")
def test_install_sh_refuses_a_folder_without_the_program(tmp_path):
    done = run_installer(PACKAGING / "linux" / "install.sh", tmp_path / "prefix")
    assert done.returncode == 2 and "unpacked FoleyStudio folder" in done.stderr
    assert not (tmp_path / "prefix").exists()


def test_the_portaudio_runtime_hook_prefers_the_bundled_library(tmp_path, monkeypatch):
    bundled = tmp_path / "libportaudio.so.2"
    bundled.write_bytes(b"")
    asked = []
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: asked.append(name) or f"system-{name}")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    runpy.run_path(str(PACKAGING / "pyi_rth_portaudio.py"))
    assert ctypes.util.find_library("portaudio") == str(bundled)
    assert ctypes.util.find_library("sndfile") == "system-sndfile" and asked == ["sndfile"]
    bundled.unlink()  # a bundle without it (macOS, Windows builds): the system's answer
    assert ctypes.util.find_library("portaudio") == "system-portaudio"
