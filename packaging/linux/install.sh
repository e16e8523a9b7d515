#!/usr/bin/env bash
# Installs FoleyStudio for the current user from an unpacked bundle (no root needed):
#
#   ./install.sh              copy the bundle to ~/.local/lib/foleystudio, link ~/.local/bin/foleystudio,
#                             add the menu entry, the icons and the .foley file type
#   ./install.sh --uninstall  remove all of that again (projects and settings are left alone)
#
# Honours PREFIX (default ~/.local) and XDG_DATA_HOME (default $PREFIX/share). The menu entry runs
# the installed program by its absolute path, so it works even when ~/.local/bin is not on PATH.
# It refreshes the desktop's MIME, menu and icon caches when those tools are installed; without
# them the desktop picks the files up at its next login.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
APP_ID=foleystudio
PREFIX="${PREFIX:-$HOME/.local}"
DATA="${XDG_DATA_HOME:-$PREFIX/share}"
LIB="$PREFIX/lib/$APP_ID"
BIN="$PREFIX/bin"

say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: %s\n' "$*" >&2; exit 2; }

refresh_caches() {
  # Each tool is optional: a missing one only delays when the desktop notices the change.
  if command -v update-mime-database >/dev/null 2>&1; then update-mime-database "$DATA/mime" >/dev/null 2>&1 || true; fi
  if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database "$DATA/applications" >/dev/null 2>&1 || true; fi
  if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$DATA/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -t "$DATA/icons/hicolor" >/dev/null 2>&1 || true
  fi
}

shared_files() {
  # The desktop-integration files the bundle carries, relative to its share/ folder.
  (cd "$HERE/share" && find . -type f | sed 's|^\./||' | sort)
}

uninstall() {
  local file
  if [ -d "$HERE/share" ]; then
    while IFS= read -r file; do rm -f "$DATA/$file"; done < <(shared_files)
  fi
  rm -f "$BIN/$APP_ID"
  rm -rf "$LIB"
  refresh_caches
  say "removed FoleyStudio from $PREFIX (your projects and settings are untouched)"
}

install() {
  [ -x "$HERE/$APP_ID" ] || die "run this from the unpacked FoleyStudio folder (no $HERE/$APP_ID here)"
  [ -d "$HERE/share" ] || die "$HERE/share is missing: the bundle is incomplete"
  say "copying the application to $LIB"
  if [ "$(cd "$HERE" && pwd -P)" != "$(mkdir -p "$LIB" && cd "$LIB" && pwd -P)" ]; then
    rm -rf "$LIB"
    mkdir -p "$LIB"
    cp -a "$HERE/." "$LIB/"
  fi
  mkdir -p "$BIN"
  ln -sfn "$LIB/$APP_ID" "$BIN/$APP_ID"

  local file target
  while IFS= read -r file; do
    target="$DATA/$file"
    mkdir -p "$(dirname "$target")"
    cp "$HERE/share/$file" "$target"
  done < <(shared_files)
  # The menu entry names the program by absolute path (menus do not read the shell's PATH).
  sed -i -e "s|^Exec=$APP_ID |Exec=\"$LIB/$APP_ID\" |" -e "s|^TryExec=$APP_ID\$|TryExec=$LIB/$APP_ID|" \
    "$DATA/applications/$APP_ID.desktop"
  refresh_caches
  say "installed: FoleyStudio is in your applications menu; from a terminal run $BIN/$APP_ID"
  case ":$PATH:" in
    *":$BIN:"*) ;;
    *) say "note: $BIN is not on your PATH; add it to run 'foleystudio' by name" ;;
  esac
}

case "${1:-}" in
  "") install ;;
  --uninstall) uninstall ;;
  -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown option: $1 (use --uninstall or --help)" ;;
esac
