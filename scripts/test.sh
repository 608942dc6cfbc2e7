#!/usr/bin/env bash
# Install what the tests need, then run them. Extra arguments go to pytest:
#   bash scripts/test.sh                  # the default run (CI runs exactly this)
#   bash scripts/test.sh -m slow          # the slow tests
#   bash scripts/test.sh tests/models -x  # one folder
set -euo pipefail
cd "$(dirname "$0")/.."
# Chromium for the web world's browser mode; cmake and g++ build Fast Downward;
# PostgreSQL's server binaries, which the checkpoint tests start on 127.0.0.1.
bash scripts/system-deps.sh chromium cmake g++ postgresql
bash scripts/install.sh dev
export LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
