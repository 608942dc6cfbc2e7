#!/usr/bin/env bash
# The main job on the embedded model, from nothing: install, then run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export DRAMATURG_MODEL="${DRAMATURG_MODEL:-local}"
.venv/bin/dramaturg models check
