# Sourced by scripts/demo and scripts/test: make .venv with Python 3.11+ and install
# authkit into it (editable) with the extras named in $AUTHKIT_EXTRAS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; raise SystemExit(sys.version_info < (3, 11))' 2>/dev/null; then
      PYTHON=$candidate
      break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "authkit needs Python 3.11 or newer (python3 --version says: $(python3 --version 2>&1))." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    # Debian and Ubuntu ship venv separately.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "Installing python3-venv (Debian/Ubuntu)..."
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      "$PYTHON" -m venv .venv
    else
      echo "Python's venv module is missing: run 'sudo apt-get install python3-venv' and try again." >&2
      exit 1
    fi
  fi
fi

stamp=".venv/.installed-${AUTHKIT_EXTRAS:-base}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing authkit and its dependencies into .venv ..."
  spec="."
  [ -n "${AUTHKIT_EXTRAS:-}" ] && spec=".[${AUTHKIT_EXTRAS}]"
  # (this machine's pip config may print "Location ... is ignored": harmless, filtered out)
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec" \
    2> >(grep -v "is ignored" >&2)
  touch "$stamp"
fi
