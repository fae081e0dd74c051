#!/usr/bin/env bash
# The test command: sets up (or reuses) the pinned environment, then runs
# the test suite on the real stack. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash tools/bootstrap.sh --print-env)"
exec python -m pytest tests -v -p no:cacheprovider "$@"
