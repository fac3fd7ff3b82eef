#!/usr/bin/env bash
# run_pytest.sh PYTHON FILE [pytest args...] — run one pytest file for CTest.
# Exit 77 (CTest's "skipped") with a visible reason when the oracle virtualenv
# is missing; pytest's "no tests ran" (5) is a failure, never a silent pass.
py="$1"; shift
if [ ! -x "$py" ] || ! "$py" -c "import gguf, numpy, pytest" 2>/dev/null; then
  echo "SKIPPED: no Python oracle environment at $py (run 'make venv' or 'make test')"
  exit 77
fi
export PYTHONDONTWRITEBYTECODE=1
exec "$py" -m pytest -q -rs -p no:cacheprovider "$@"
