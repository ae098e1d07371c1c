#!/usr/bin/env bash
# The store the heart job reads: the patients' resting heart rate and saturation, the
# thresholds of detection and alert, and the risk model.
# Uses the store of $STYX_STORE (default: styx.db here).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

styx generate vitals --reference "$tmp/patients.ndjson"
styx store load patients "$tmp/patients.ndjson" --key id

styx config set heart.min_rise 10
styx config set heart.alert_risk 0.8

# The model is trained by train.py; without it the job stops at its score transform.
if [[ -f model.pmml ]]; then styx models deploy heart model.pmml; fi
