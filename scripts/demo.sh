#!/usr/bin/env bash
# The demo on a fresh clone: installs the package into .venv, then runs
# `smartcity-iot demo` with any arguments given (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
exec smartcity-iot demo "$@"
