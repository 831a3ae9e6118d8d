#!/usr/bin/env bash
# Every fault and bad-input test in one run, with the full fuzz run (FUZZ_EXAMPLES
# inputs per fuzz test; three tests, so >= 100,000 in all by default), then
# RELIABILITY.md written from the figures the tests recorded (tests/ingest/reliability.py).
# CPU heavy: minutes, not seconds. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV_EXTRAS=test source scripts/venv.sh

export FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-34000}"
RELIABILITY_LOG="$(mktemp --suffix=.jsonl)"
export RELIABILITY_LOG
summary="$(mktemp)"
started=$(date +%s)
set +e
python -m pytest -q -p no:cacheprovider -o addopts="" \
  tests/ingest/test_crash.py \
  tests/ingest/test_mqtt_service.py::test_broker_restart_mid_stream_loses_nothing \
  tests/store/test_influx_outage.py \
  tests/ingest/test_disk_full.py \
  tests/ingest/test_isolation.py \
  tests/ingest/test_bad_input.py \
  tests/fuzz "$@" 2>&1 | tee "$summary"
status=${PIPESTATUS[0]}
set -e
python scripts/reliability_report.py "$RELIABILITY_LOG" "$summary" "$(( $(date +%s) - started ))" > RELIABILITY.md
echo "wrote RELIABILITY.md (pytest exit $status)"
exit "$status"
