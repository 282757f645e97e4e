#!/usr/bin/env bash
# Regenerate the single baseline migration from the models (allowed until the first release ships;
# after that, add migrations instead). Uses a throwaway SQLite database.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f alembic/versions/0001_baseline.py
.venv/bin/alembic -x url="sqlite:///$tmp/empty.sqlite3" revision --autogenerate --rev-id 0001 -m baseline >/dev/null 2>&1
.venv/bin/ruff format -q alembic/versions/0001_baseline.py
rm -rf "$tmp"
echo "alembic/versions/0001_baseline.py regenerated"
