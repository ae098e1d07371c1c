#!/usr/bin/env bash
# The store the IoT job reads: the machines (type, site, normal and maximum
# temperature), the thresholds of detection, the failure model and the score it takes to
# alert. Uses the store of $STYX_STORE (default: styx.db here).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

styx generate machines --reference "$tmp/machines.ndjson"
styx store load machines "$tmp/machines.ndjson" --key id

styx config set iot.warnings 3      # a candidate: this many warnings in five minutes,
styx config set iot.errors 1        # or this many errors,
styx config set iot.heat 0.45       # or this share of the way from normal to maximum temperature
styx config set iot.threshold 0.5   # the failure score that alerts

# The model is trained by train.py; without it the job stops at its score transform.
if [[ -f model.pmml ]]; then styx models deploy iot model.pmml; fi
