#!/usr/bin/env bash
# System packages: the libraries Qt's offscreen and xcb platforms load at run time; tshark and
# the Lua 5.2 and 5.4 interpreters (the Wireshark dissector's tests: Wireshark up to 4.2 runs
# Lua 5.2, later ones 5.4); node and npm (the Kaitai Struct compiler, installed project-locally
# by scripts/kaitai.py); pulseaudio and its tools (the alarm tones' playback test records a
# private daemon's null sink; QtMultimedia plays through libpulse).
# Installs only what is missing, so a second run costs one dpkg query.
set -euo pipefail
pkgs=(libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 fonts-dejavu-core
      libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0
      libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xinerama0 xvfb socat
      tshark lua5.2 lua5.4 pulseaudio pulseaudio-utils)
# node and npm run the Kaitai Struct compiler; the machine image may bring its own.
command -v npm >/dev/null && command -v node >/dev/null || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
  echo "vpump: missing system packages: ${missing[*]} (install them as root)" >&2; exit 1
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "vpump: installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
# tshark's package asks whether non-root users may capture: answer no, without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
