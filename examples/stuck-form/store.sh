#!/usr/bin/env bash
# The store the stuck-form job reads: the chat propensity model and the propensity from
# which a chat is opened. Uses the store of $STYX_STORE (default: styx.db here).
set -euo pipefail
cd "$(dirname "$0")"

styx config set chat.min_propensity 0.5

# The model is trained by train.py; without it the job stops at its score transform.
if [[ -f model.pmml ]]; then styx models deploy stuck-form model.pmml; fi
