#!/usr/bin/env bash
# Set up the environment (once) and run the whole test suite.
# Uses TEST_DATABASE_URL, when set, to run the database tests on PostgreSQL as well as SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh requirements-test.txt
python -m pytest "$@"
