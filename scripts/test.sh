#!/usr/bin/env bash
# The whole test suite on a fresh clone: installs what it needs (Debian's
# mosquitto when missing, the package and its test extras in .venv), then runs
# the linters, the type checker and pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  echo "installing Debian's mosquitto (the tests start their own on a free port)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
fi

source scripts/venv.sh test

echo "== ruff"; ruff check src firmware_sim tests bench
echo "== mypy"; mypy
echo "== pytest"; python -m pytest "$@"
