#!/usr/bin/env bash
# The main job on the embedded model, from nothing: install, check the model,
# then play a short drama scene with every character played by an agent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export DRAMATURG_MODEL="${DRAMATURG_MODEL:-local}"
.venv/bin/dramaturg models check
session=$(.venv/bin/dramaturg drama new --blueprint elsinore --quiet)
.venv/bin/dramaturg drama play "$session" --auto --max-turns "${MAX_TURNS:-8}"
