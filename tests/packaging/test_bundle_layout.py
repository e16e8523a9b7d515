"""What the frozen bundle includes and leaves out (packaging/bundle_layout.py), that the spec wires
those decisions in, and the build script's plumbing. Nothing here runs PyInstaller."""

import ast
import tomllib
from pathlib import Path

import pytest

import foleystudio
from tests.packaging._load import PACKAGING, ROOT, load

layout = load("bundle_layout")
build = load("build")
SPEC = PACKAGING / "foleystudio.spec"
# Imported lazily by design and deliberately not bundled (an optional local text encoder).
OPTIONAL_UNBUNDLED = {"transformers"}


def imported_modules(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def is_excluded(module: str) -> bool:
    return any(module == excluded or module.startswith(excluded + ".") for excluded in layout.EXCLUDED_MODULES)


def test_heavy_qt_modules_and_torch_extras_are_excluded():
    for module in ("PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets", "PySide6.Qt3DCore",
                   "PySide6.QtQuick", "PySide6.QtQml", "PySide6.QtMultimedia", "triton", "PyQt5"):
        assert is_excluded(module), module


def test_nothing_the_app_imports_is_excluded():
    imported = imported_modules(ROOT / "foleystudio")
    clashes = {name for name in imported if is_excluded(name) and name.split(".")[0] not in OPTIONAL_UNBUNDLED}
    assert not clashes, f"the bundle would lack: {sorted(clashes)}"


def test_every_qt_module_the_ui_or_pyqtgraph_needs_is_kept():
    qt_imports = {name.split(".")[1] for name in imported_modules(ROOT / "foleystudio")
                  if name.startswith("PySide6.Qt")}
    assert qt_imports <= set(layout.QT_MODULES_USED), qt_imports - set(layout.QT_MODULES_USED)
    # pyqtgraph's curve item imports QtOpenGL at module level; its SVG export needs QtSvg.
    assert {"QtCore", "QtGui", "QtWidgets", "QtOpenGL", "QtSvg"} <= set(layout.QT_MODULES_USED)
    assert not set(layout.QT_MODULES_USED) & set(layout.QT_MODULES_EXCLUDED)


def test_data_files_bring_models_and_resources_but_not_screenshots():
    pairs = layout.data_files()
    destinations = {(Path(source).relative_to(ROOT).as_posix(), dest) for source, dest in pairs}
    assert ("models/README.md", "models") in destinations
    for icon in (ROOT / "resources" / "icons").iterdir():
        assert (f"resources/icons/{icon.name}", "resources/icons") in destinations
    assert not [source for source, _ in destinations if source.startswith("resources/screenshots/")]
    assert all(Path(source).is_file() for source, _ in pairs)


def test_data_files_take_a_model_folder_whole(tmp_path):
    (tmp_path / "models" / "small").mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "MODEL_CARD.md"):
        (tmp_path / "models" / "small" / name).write_text("x")
    (tmp_path / "resources" / "screenshots").mkdir(parents=True)
    (tmp_path / "resources" / "screenshots" / "main.png").write_text("x")
    assert sorted(dest for _, dest in layout.data_files(tmp_path)) == ["models/small"] * 3


@pytest.mark.parametrize(("dest", "dropped"), [
    ("torchaudio/lib/_torchaudio.abi3.so", True),
    ("torchaudio/lib/libtorchaudio.abi3.so", True),
    ("libasound.so.2", True),
    ("libjack.so.0", True),
    ("libstdc++.so.6", True),
    ("libfontconfig.so.1", True),
    ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", True),
    ("libpangocairo-1.0.so.0", True),
    ("libcairo.so.2", True),
    ("PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so", False),
    ("libxcb-cursor.so.0", False),
    ("av.libs/libasound-c7818c60.so.2.0.0", False),
    ("libportaudio.so.2", False),
    ("torch/lib/libtorch_cpu.so", False),
    ("PySide6/Qt/lib/libQt6Core.so.6", False),
])
def test_dropped_binaries(dest, dropped):
    assert layout.is_dropped_binary(dest) is dropped


def test_a_kept_library_linking_a_dropped_one_is_reported_unless_the_system_provides_it():
    needs = {"PySide6/Qt/lib/libQt6Gui.so.6": {"libfontconfig.so.1", "libQt6Core.so.6"},
             "PySide6/Qt/plugins/styles/libfancy.so": {"libcairo.so.2", "libQt6Gui.so.6"}}
    dropped = {"libfontconfig.so.1", "libcairo.so.2", "libqgtk3.so"}
    assert layout.dropped_but_needed(needs, dropped) == {"PySide6/Qt/plugins/styles/libfancy.so": {"libcairo.so.2"}}
    assert layout.dropped_but_needed({"a.so": {"libc.so.6"}}, dropped) == {}


def test_cuda_libraries_are_recognised():
    dests = ["torch/lib/libtorch_cpu.so", "libcudart.so.13", "nvidia/cu13/lib/libcublas.so.13",
             "torch/lib/libtorch_cuda.so", "libportaudio.so.2", "torch/lib/libc10.so"]
    assert layout.cuda_libraries(dests) == [
        "libcudart.so.13", "nvidia/cu13/lib/libcublas.so.13", "torch/lib/libtorch_cuda.so"]


def test_the_version_is_read_from_the_one_place_it_lives():
    assert layout.read_version() == foleystudio.__version__
    plist = layout.macos_info_plist(layout.read_version())
    assert plist["CFBundleShortVersionString"] == foleystudio.__version__
    assert plist["UTExportedTypeDeclarations"][0]["UTTypeTagSpecification"]["public.filename-extension"] == ["foley"]


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_each_platform_has_its_program_icon(platform):
    assert layout.icon_file(platform).is_file()


def test_the_two_windows_programs_do_not_collide_on_a_case_insensitive_disk():
    assert layout.console_executable("win32").lower() != layout.WINDOWS_GUI_EXECUTABLE.lower()
    assert layout.console_executable("linux") == layout.console_executable("darwin") == layout.EXECUTABLE


def analysis_keywords() -> dict[str, str]:
    """The keyword arguments of the spec's Analysis(...) call, as source text."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    (call,) = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
               and isinstance(node.func, ast.Name) and node.func.id == "Analysis"]
    return {keyword.arg: ast.unparse(keyword.value) for keyword in call.keywords} | {
        "scripts": ast.unparse(call.args[0])}


def test_the_spec_wires_in_the_layout():
    keywords = analysis_keywords()
    assert keywords["excludes"] == "list(layout.EXCLUDED_MODULES)"
    assert keywords["datas"] == "layout.data_files()"
    assert keywords["hookspath"] == "[str(layout.HOOKS_DIR)]"
    assert "layout.RUNTIME_HOOKS" in keywords["runtime_hooks"]
    assert "layout.ENTRY_SCRIPT" in keywords["scripts"]
    text = SPEC.read_text(encoding="utf-8")
    assert "layout.is_dropped_binary" in text and "layout.cuda_libraries" in text
    assert "layout.dropped_but_needed" in text
    assert "layout.portaudio_library()" in text


def test_the_files_the_spec_names_exist():
    assert "freeze_support()" in layout.ENTRY_SCRIPT.read_text(encoding="utf-8")
    assert all(hook.is_file() for hook in layout.RUNTIME_HOOKS)
    assert (layout.HOOKS_DIR / "hook-torchaudio.py").is_file()
    # Our torchaudio hook replaces the contributed one to leave the CUDA-linked extension out.
    assert "binaries" not in (layout.HOOKS_DIR / "hook-torchaudio.py").read_text(encoding="utf-8")


def test_pyinstaller_is_pinned_in_the_package_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    (requirement,) = extras["package"]
    name, _, version = requirement.partition("==")
    assert name == "pyinstaller" and version.count(".") == 2


def test_the_build_environment_takes_pins_from_pyproject():
    torch, others = build.pinned_requirements()
    assert set(torch) == {"torch", "torchaudio"}
    names = {requirement.split("==")[0] for requirement in others}
    assert {"numpy", "PySide6-Essentials", "pyqtgraph", "pyinstaller"} <= names
    assert not names & {"torch", "torchaudio", "transformers"}


def test_the_cpu_variant_takes_torch_from_pytorchs_cpu_index_on_linux_only():
    versions = {"torch": "2.11.0", "torchaudio": "2.11.0"}
    assert build.torch_requirements("cpu", versions, "Linux") == (
        ["torch==2.11.0+cpu", "torchaudio==2.11.0+cpu"], build.PYTORCH_CPU_INDEX)
    assert build.torch_requirements("cpu", versions, "Darwin") == (["torch==2.11.0", "torchaudio==2.11.0"], None)
    assert build.torch_requirements("cuda", versions, "Linux") == (["torch==2.11.0", "torchaudio==2.11.0"], None)


def test_build_output_inside_the_checkout_is_refused(monkeypatch):
    monkeypatch.setattr(build, "run_pyinstaller", lambda *args: pytest.fail("must refuse before building"))
    with pytest.raises(SystemExit, match="outside the checkout"):
        build.build_bundle("cpu", ROOT / "dist", tarball=False, clean=False)


def test_the_tarball_unpacks_into_one_named_folder(tmp_path):
    import tarfile

    bundle = tmp_path / "foleystudio"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "foleystudio").write_text("program")
    name = build.tarball_name("0.1.0", "cpu", "x86_64")
    assert name == "foleystudio-0.1.0-linux-x86_64-cpu"
    with tarfile.open(build.make_tarball(bundle, tmp_path, name)) as archive:
        assert {member.name.split("/")[0] for member in archive.getmembers()} == {name}
        assert f"{name}/foleystudio" in archive.getnames()
