#!/usr/bin/env bash
# One entry point for a fresh checkout: sets up what FoleyStudio needs, then runs it or its tests.
#
#   packaging/bootstrap.sh run [ARGS...]   the main job: the app on the demo project (no display: its stems, headless)
#   packaging/bootstrap.sh test [ARGS...]  installs the test tools and runs the whole test suite
#
# It creates .venv/ in the checkout, installs the pinned Python packages (pyproject.toml) and, on
# Debian/Ubuntu, the few system libraries that pip cannot provide, saying what and why. A second run
# reuses the environment and reinstalls only when pyproject.toml changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
MODE="${1:-}"
[ $# -gt 0 ] && shift

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

case "$MODE" in
  run|test) ;;
  *) die "usage: packaging/bootstrap.sh run|test [ARGS...]" ;;
esac

# ---- system libraries (Linux) -------------------------------------------------------------------
# soname -> Debian package and why we need it. Python wheels bundle everything else (FFmpeg in av,
# libsndfile in soundfile, Qt in PySide6).
NEEDED_LIBS=(
  "libportaudio.so.2 libportaudio2 audio-playback-(sounddevice)"
  "libEGL.so.1 libegl1 Qt-GUI-library"
  "libGL.so.1 libgl1 Qt-GUI-library"
  "libxkbcommon.so.0 libxkbcommon0 Qt-keyboard-handling"
  "libfontconfig.so.1 libfontconfig1 Qt-fonts"
  "libglib-2.0.so.0 libglib2.0-0 Qt-event-loop"
  "libdbus-1.so.3 libdbus-1-3 Qt-desktop-integration"
)
# A real window (run mode with a display) needs Qt's xcb platform plugin and its libraries.
WINDOW_LIBS=(
  "libxcb-cursor.so.0 libxcb-cursor0 Qt-X11-window"
  "libxcb-icccm.so.4 libxcb-icccm4 Qt-X11-window"
  "libxcb-keysyms.so.1 libxcb-keysyms1 Qt-X11-window"
  "libxkbcommon-x11.so.0 libxkbcommon-x11-0 Qt-X11-window"
  "libxcb-shape.so.0 libxcb-shape0 Qt-X11-window"
  "libxcb-render-util.so.0 libxcb-render-util0 Qt-X11-window"
  "libxcb-image.so.0 libxcb-image0 Qt-X11-window"
  "libxcb-randr.so.0 libxcb-randr0 Qt-X11-window"
  "libxcb-xkb.so.1 libxcb-xkb1 Qt-X11-window"
)

apt_install() {
  # Installs Debian packages as root, through sudo when we are not root (non-interactively without a
  # terminal, as in CI). Prints the command to run by hand when neither works.
  local packages=("$@")
  local runner=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      if [ -t 0 ]; then runner=(sudo); else runner=(sudo -n); fi
    else
      say "cannot install ${packages[*]} without root; run: apt-get install ${packages[*]}"
      return 0
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! "${runner[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null 2>&1; then
    "${runner[@]}" apt-get update -q >/dev/null 2>&1 || true
    "${runner[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null 2>&1 \
      || say "could not install ${packages[*]}; install them by hand: apt-get install ${packages[*]}"
  fi
}

missing_debian_packages() {
  local entry soname package why
  for entry in "$@"; do
    read -r soname package why <<<"$entry"
    if ! ldconfig -p 2>/dev/null | grep -q "$soname"; then
      say "missing $soname: will install Debian package $package (${why//-/ })"
      printf '%s\n' "$package"
    fi
  done
}

ensure_linux_libraries() {
  command -v apt-get >/dev/null 2>&1 || {
    say "not a Debian/Ubuntu system: make sure PortAudio and Qt's runtime libraries are installed"
    return 0
  }
  local wanted=("${NEEDED_LIBS[@]}")
  if [ "$MODE" = run ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    wanted+=("${WINDOW_LIBS[@]}")
  fi
  local packages
  mapfile -t packages < <(missing_debian_packages "${wanted[@]}")
  if [ "${#packages[@]}" -gt 0 ]; then
    say "installing system libraries: ${packages[*]}"
    apt_install "${packages[@]}"
  fi
}

# ---- Python ---------------------------------------------------------------------------------------
python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

find_python() {
  local candidate
  for candidate in "${FOLEYSTUDIO_PYTHON:-}" python3.11 python3.12 python3 python; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_python() {
  local python
  if python="$(find_python)"; then
    printf '%s\n' "$python"
    return 0
  fi
  case "$(uname -s)" in
    Linux)
      say "no Python >= 3.11 found: installing Debian packages python3.11 and python3.11-venv"
      apt_install python3.11 python3.11-venv ;;
    Darwin)
      if command -v brew >/dev/null 2>&1; then
        say "no Python >= 3.11 found: installing python@3.11 with Homebrew"
        brew install python@3.11 >&2
      fi ;;
  esac
  python="$(find_python)" || die "FoleyStudio needs Python 3.11 or newer; install it and run this again"
  printf '%s\n' "$python"
}

ensure_venv() {
  local python="$1"
  if [ -x "$VENV/bin/python" ] && python_ok "$VENV/bin/python"; then
    return 0
  fi
  say "creating the virtual environment in .venv/ with $python"
  rm -rf "$VENV"
  if ! "$python" -m venv "$VENV" 2>/dev/null; then
    # Debian and Ubuntu ship venv's pip bootstrap separately.
    local version
    version="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    say "Python's venv module is missing: installing Debian package python$version-venv"
    apt_install "python$version-venv"
    rm -rf "$VENV"
    "$python" -m venv "$VENV" || die "could not create a virtual environment with $python"
  fi
}

ensure_packages() {
  # The stamp records pyproject.toml's checksum and the extras installed with it, so a second run
  # skips pip unless pyproject.toml changed or an extra is missing ("run" is happy with "test").
  local extras="$1" stamp="$VENV/.foleystudio-installed" checksum
  checksum="$(cksum <"$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(head -n 1 "$stamp")" = "$checksum" ] \
      && { [ -z "$extras" ] || grep -qx -- "$extras" "$stamp"; }; then
    return 0
  fi
  say "installing the pinned Python packages (first time: about 2 GB of downloads, a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip "setuptools>=70,<82" wheel
  local target="$ROOT"
  [ -n "$extras" ] && target="$ROOT[$extras]"
  "$VENV/bin/python" -m pip install -q --no-build-isolation -e "$target"
  printf '%s\n%s\n' "$checksum" "$extras" >"$stamp"
}

[ "$(uname -s)" = Linux ] && ensure_linux_libraries
PYTHON="$(ensure_python)"
ensure_venv "$PYTHON"

cd "$ROOT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
case "$MODE" in
  test)
    ensure_packages test
    export QT_QPA_PLATFORM=offscreen
    say "checking the import contract (no Qt in audio/video/project/engine)"
    "$VENV/bin/lint-imports" --no-cache
    say "running the test suite"
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  run)
    ensure_packages ""
    exec "$VENV/bin/foleystudio" "$@"
    ;;
esac
