#!/usr/bin/env bash
# The store the trends job reads: the thresholds of detection and of relevance, and the
# relevance model.
# Uses the store of $STYX_STORE (default: styx.db here).
set -euo pipefail
cd "$(dirname "$0")"

# A candidate: at least this many tweets in a minute, this many times its usual count
# (plus one), this many of its usual spreads above it.
styx config set trends.min_tweets 8
styx config set trends.min_ratio 1.3
styx config set trends.min_z 2
# The model's probability from which a candidate is a trend.
styx config set trends.min_relevance 0.9

# The model is trained by train.py; without it the job stops at its score transform.
if [[ -f model.pmml ]]; then styx models deploy trends model.pmml; fi
