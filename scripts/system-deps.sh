#!/usr/bin/env bash
# Debian packages the tests need (a real browser for the web world's browser
# mode). Installed only when missing; needs root or sudo.
set -euo pipefail
PKGS=()
for pkg in "$@"; do PKGS+=("$pkg"); done
[ ${#PKGS[@]} -eq 0 ] && exit 0
missing=()
for pkg in "${PKGS[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "==> installing Debian packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
