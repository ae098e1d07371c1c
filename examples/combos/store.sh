#!/usr/bin/env bash
# The store the combos job reads: the player model, which tells a player's combo from a
# macro's, and how sure it must be.
# Uses the store of $STYX_STORE (default: styx.db here).
set -euo pipefail
cd "$(dirname "$0")"

styx config set combos.min_human 0.5

# The model is trained by train.py; without it the job stops at its score transform.
if [[ -f model.pmml ]]; then styx models deploy combos model.pmml; fi
