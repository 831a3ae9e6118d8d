# Sourced by scripts/*.sh: a project virtualenv in .venv with the package installed
# (editable) plus the optional extras named in $VENV_EXTRAS. Re-installs only when pyproject.toml changes.
extras="${VENV_EXTRAS:-}"  # not $1: a sourced script sees its caller's arguments
if [ ! -x .venv/bin/python ]; then
  python3 -m venv --system-site-packages .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
stamp=".venv/.installed-$(cat pyproject.toml deploy/plate-models.txt | sha1sum | cut -c1-12)-${extras}"
if [ ! -f "$stamp" ]; then
  echo "installing smartcity-iot${extras:+[$extras]} into .venv"
  python -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
  # the plate readers' model files: --no-deps, see deploy/plate-models.txt
  python -m pip install -q --disable-pip-version-check --no-deps -r deploy/plate-models.txt
  touch "$stamp"
fi
