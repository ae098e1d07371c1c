#!/usr/bin/env bash
# The store the fraud job reads: the customers' profiles, the thresholds of detection,
# the fraud model, and one rule per customer segment that decides on its score.
# Uses the store of $STYX_STORE (default: styx.db here).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

styx generate payments --reference "$tmp/customers.ndjson"
styx store load customers "$tmp/customers.ndjson" --key id

styx config set fraud.small_amount 2.5
styx config set fraud.large_amount 1000
styx config set fraud.transfer_amount 100
styx config set fraud.burst_count 5
styx config set continents '{"US": "north_america", "CA": "north_america", "MX": "north_america", "GB": "europe", "DE": "europe", "FR": "europe", "NL": "europe", "ES": "europe", "IT": "europe", "BR": "south_america", "JP": "asia", "IN": "asia", "SG": "asia", "AU": "oceania", "ZA": "africa", "NG": "africa"}'

# The model is trained by train.py; without it the job stops at its score transform.
if [[ -f model.pmml ]]; then styx models deploy fraud model.pmml; fi

styx rules put fraud retail --priority 1 --condition "segment == 'retail' && fraud >= 0.5" \
    --attr action="Block transfer" --attr severity=high
styx rules put fraud premium --priority 1 --condition "segment == 'premium' && fraud >= 0.6" \
    --attr action="Block transfer" --attr severity=high
styx rules put fraud business --priority 1 --condition "segment == 'business' && fraud >= 0.7" \
    --attr action="Hold transfer for review" --attr severity=medium

