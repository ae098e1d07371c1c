#!/usr/bin/env bash
# The store the low-balance job reads: the card holders' profiles (threshold, language,
# whether they want messages), the relevance model, and the notification definitions:
# rules of ruleset `low_balance`, each with its criteria, its model threshold and its
# offer, tried highest priority first.
# Uses the store of $STYX_STORE (default: styx.db here).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

styx generate transactions --reference "$tmp/cards.ndjson"
styx store load cards "$tmp/cards.ndjson" --key id

# No card's threshold is above this: debits that leave more are not looked up.
styx config set low_balance.floor 300
styx config set low_balance.offer_threshold 0.6
styx config set low_balance.savings_threshold 0.6
styx config set low_balance.alert_threshold 0.5

# The model is trained by train.py; without it the job stops at its score transform.
if [[ -f model.pmml ]]; then styx models deploy low-balance model.pmml; fi

styx rules put low_balance overdraft --priority 3 \
    --condition "opted_in && segment in ['young_professional', 'family'] && has_savings == 0 && relevance >= config.low_balance.offer_threshold" \
    --attr greeting=Hi --attr offer="An overdraft of up to 500 EUR is ready for you: reply YES to switch it on."
styx rules put low_balance savings --priority 2 \
    --condition "opted_in && has_savings == 1 && relevance >= config.low_balance.savings_threshold" \
    --attr greeting=Hi --attr offer="Move money from your savings account in the app, in one tap."
styx rules put low_balance alert --priority 1 \
    --condition "opted_in && relevance >= config.low_balance.alert_threshold" \
    --attr greeting=Hello --attr offer="Open the app to see your recent payments."
