#!/usr/bin/env bash
# Starts the web server and a Celery worker consuming every queue; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8000}"
BIN=.venv/bin

"$BIN/celery" -A config worker -Q default,gpu,scheduling --loglevel INFO \
    --concurrency "${CELERY_CONCURRENCY:-2}" --hostname "aimass@%h" &
worker=$!
stop() {
    kill -TERM "$worker" 2>/dev/null || true
    wait "$worker" 2>/dev/null || true
}
trap stop EXIT INT TERM

"$BIN/python" manage.py seed_demo --logins-only 2>/dev/null || true
echo
echo "AI Mass is starting at http://127.0.0.1:${PORT}/  (Ctrl-C stops the server and the worker)"
echo
"$BIN/python" manage.py runserver "127.0.0.1:${PORT}" --noreload
