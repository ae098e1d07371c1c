#!/usr/bin/env bash
# The store the traffic job reads: the road segments (free flow, lanes, usual flow,
# detour), the thresholds of detection, the jam model and the score it takes to reroute.
# Uses the store of $STYX_STORE (default: styx.db here).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

styx generate traffic --reference "$tmp/segments.ndjson"
styx store load segments "$tmp/segments.ndjson" --key id

styx config set traffic.slow_car 0.6      # a car under this share of the free flow is slow
styx config set traffic.slow_ratio 0.8    # a candidate: average speed under this share of the free flow
styx config set traffic.low_flow 0.5      # or fewer cars than this share of the usual flow
styx config set traffic.threshold 0.7     # the jam score that reroutes

# The model is trained by train.py; without it the job stops at its score transform.
if [[ -f model.pmml ]]; then styx models deploy traffic model.pmml; fi
