#!/usr/bin/env bash
# The whole test suite on a fresh clone: installs what it needs (the Debian
# packages below when missing, the package and its test extras in .venv), then
# runs the linters, the format check, the import-layer contract, the type checker and pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests start or call: mosquitto (brokers on free ports),
# influxdb 1.6.7 (a real engine on free ports), postgresql 15 (a server in a temporary
# directory: the --database-url backend), docker-compose (`config` validation only),
# rabbitmq-server (the clustered message engine of tests/ingest/test_partitioned.py).
missing=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto mosquitto-clients)
command -v influxd >/dev/null || [ -x /usr/bin/influxd ] || missing+=(influxdb)
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql)
command -v docker-compose >/dev/null || missing+=(docker-compose)
# rabbitmq-server 3.10 (with its MQTT and consistent-hash plugins): the engine's 3-node cluster
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
# the web console's browser tests: Debian's headless Chromium + driver, and a CJK font for the screenshots
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
# real footage for the camera tests: OpenCV's vtest.avi (a plaza with people walking)
dpkg -s opencv-doc >/dev/null 2>&1 || missing+=(opencv-doc)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian's ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # no recommends: docker-compose would pull in the whole docker.io engine, which the tests never run
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

VENV_EXTRAS=test source scripts/venv.sh

echo "== ruff"; ruff check src firmware_sim tests bench
echo "== ruff format"; ruff format --check src firmware_sim tests bench
echo "== import layers"; lint-imports
echo "== mypy"; mypy
echo "== pytest"; python -m pytest "$@"
