#!/usr/bin/env bash
# Installs what Beeldcoach needs, idempotently, on a machine with only Python, pip and apt:
#   - a virtual environment in .venv with the package (editable) and, with --test, test tools;
#   - ffmpeg (the video pipeline), Pango and a font (WeasyPrint's PDF reports) and, with --test,
#     Chromium (browser tests) and poppler-utils (reading PDFs back), from Debian's packages when
#     they are missing. Never downloads a browser of its own (no `playwright
#     install`): Playwright drives /usr/bin/chromium.
# Sourced by scripts/demo and scripts/test; safe to run again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WANT_TEST=0
if [ "${1:-}" = "--test" ]; then WANT_TEST=1; fi

PYTHON="${PYTHON:-python3}"
apt_install() {
  local packages=("$@")
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "Please install: ${packages[*]} (apt-get install -y ${packages[*]})" >&2; return 1
  fi
  echo "Installing ${packages[*]} from Debian's packages..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
}

missing=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
if command -v dpkg-query >/dev/null; then
  deb_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
  for package in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core; do
    deb_installed "$package" || missing+=("$package")
  done
fi
if [ "$WANT_TEST" = 1 ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core)
  command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null || missing+=(poppler-utils)
fi
if ! "$PYTHON" -c "import venv, ensurepip" 2>/dev/null; then
  missing+=(python3-venv)
fi
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Reinstall only when the project's requirements changed.
if [ "$WANT_TEST" = 1 ]; then
  extras="[test]"; stamp=".venv/.installed-test"
else
  extras=""; stamp=".venv/.installed"
fi
digest="$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  .venv/bin/python -m pip install -q --upgrade pip 2>/dev/null || true
  .venv/bin/python -m pip install -q -e ".${extras}"
  echo "$digest" > "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
