# Sourced by scripts/*.sh: a project virtualenv in .venv with the package installed
# (editable) plus the optional extras named in $VENV_EXTRAS. Re-installs only when pyproject.toml changes.
extras="${VENV_EXTRAS:-}"  # not $1: a sourced script sees its caller's arguments
if [ ! -x .venv/bin/python ]; then
  python3 -m venv --system-site-packages .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)-${extras}"
if [ ! -f "$stamp" ]; then
  echo "installing smartcity-iot${extras:+[$extras]} into .venv"
  python -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
  # The plate reader's model files (MIT) ship in PyPI's hyperlpr 0.0.2; we load the files
  # ourselves and never import its code, whose dependency (opencv-python, not headless)
  # would shadow our cv2: hence --no-deps, pinned exactly (vision/plates.py).
  python -m pip install -q --disable-pip-version-check --no-deps "hyperlpr==0.0.2"
  touch "$stamp"
fi
