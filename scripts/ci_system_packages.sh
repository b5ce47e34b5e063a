#!/usr/bin/env bash
# System packages the map and route-sheet tests need (Debian, run as root).
#   chromium                 headless browser the map tests drive (tests/browser.py)
#   fonts-noto-cjk           Japanese glyphs in the browser's rendering of the maps
#   fonts-ipaexfont-gothic   a TrueType Japanese font for the PDF sheet, besides the
#                            PyPI one (matplotlib-fontja) that pip installs
# (The offline Leaflet and pages' assets come from the npm registry over HTTPS,
# fetched by Python itself: no Node.js or npm needed.)
# Idempotent and quiet: does nothing when everything is there.
# Usage: bash scripts/ci_system_packages.sh [PYTHON]
#   with PYTHON (the project's interpreter), also installs the offline map assets.
set -euo pipefail

packages=(chromium fonts-noto-cjk fonts-ipaexfont-gothic)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp)
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        exit 1
    fi
    rm -f "$log"
fi
command -v chromium >/dev/null || { echo "chromium still missing after apt-get" >&2; exit 1; }

if [[ $# -ge 1 ]]; then
    "$1" -m junkai_geo.offline install >/dev/null
fi
