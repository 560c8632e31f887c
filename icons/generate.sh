#!/usr/bin/env bash
# Regenerates every committed icon from its SVG source. Builds do not run this: the outputs are
# committed. Run it after editing an SVG:  icons/generate.sh
#
# Sources:  icons/enlace.svg (app), icons/dev/enlace-dev.svg (dev channel: "DEV" band),
#           icons/src/tray-<state>.svg (tray states: idle, ringing, in-call, offline).
# Needs:    rsvg-convert (librsvg2-bin), ImageMagick `convert` or `magick` (imagemagick),
#           png2icns (icnsutils), identify (imagemagick).
# Every PNG is 8-bit RGBA (Tauri refuses others); the script checks it at the end.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

need() { command -v "$1" >/dev/null 2>&1 || { echo "generate.sh: $1 not found (install $2)" >&2; exit 1; }; }
need rsvg-convert librsvg2-bin
need png2icns icnsutils
need identify imagemagick
if command -v magick >/dev/null 2>&1; then IM=(magick); else need convert imagemagick; IM=(convert); fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

render() { # svg size out
  rsvg-convert --width "$2" --height "$2" --keep-aspect-ratio --format png "$1" --output "$3"
}

# The Tauri bundle set (same names `tauri icon` produces), for one SVG into one directory.
app_set() { # svg outdir
  local svg="$1" out="$2"
  mkdir -p "$out"
  render "$svg" 32 "$out/32x32.png"
  render "$svg" 64 "$out/64x64.png"
  render "$svg" 128 "$out/128x128.png"
  render "$svg" 256 "$out/128x128@2x.png"
  render "$svg" 512 "$out/icon.png"
  # Windows Store / MSIX logos
  for s in 30 44 71 89 107 142 150 284 310; do
    render "$svg" "$s" "$out/Square${s}x${s}Logo.png"
  done
  render "$svg" 50 "$out/StoreLogo.png"
  # .ico: 16–256 px layers, 32 first (what Windows shows in most places)
  for s in 16 24 32 48 64 128 256 512; do render "$svg" "$s" "$work/$s.png"; done
  "${IM[@]}" "$work/32.png" "$work/16.png" "$work/24.png" "$work/48.png" "$work/64.png" \
    "$work/256.png" -define png:color-type=6 "$out/icon.ico"
  # .icns: 16, 32, 48, 128, 256, 512
  png2icns "$out/icon.icns" "$work/16.png" "$work/32.png" "$work/48.png" "$work/128.png" \
    "$work/256.png" "$work/512.png" >/dev/null
}

app_set enlace.svg .
app_set dev/enlace-dev.svg dev

for state in idle ringing in-call offline; do
  render "src/tray-$state.svg" 32 "tray-$state.png"
  render "src/tray-$state.svg" 64 "tray-$state@2x.png"
done

# Check: every PNG is RGBA with the size its name promises.
status=0
while IFS= read -r -d '' png; do
  channels="$(identify -format '%[channels]' "$png")"
  case "$channels" in
    srgba|rgba) ;;
    *) echo "not RGBA: $png ($channels)" >&2; status=1 ;;
  esac
done < <(find . -name '*.png' -print0)
exit "$status"
