# Sourced by bin/run and bin/test: make (or reuse) .venv and install the project into it.
# Reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "Viggle Studio needs Python 3.11 or newer ($PY is older)." >&2; exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv; then
    echo "Creating the virtual environment failed; on Debian: apt-get install python3-venv" >&2; exit 1
  fi
fi
EXTRAS="${1:-}"
STAMP=".venv/.installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  echo "==> Installing Python packages into .venv (${EXTRAS:-app})"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${EXTRAS:+[$EXTRAS]}"
  touch "$STAMP"
fi
