#!/usr/bin/env bash
# Starts the web server and a Celery worker consuming every queue; Ctrl-C (or SIGTERM) stops
# both, and if either dies the other is stopped too.
set -uo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8000}"
BIN=.venv/bin

"$BIN/celery" -A config worker -Q default,gpu,scheduling --loglevel INFO \
    --concurrency "${CELERY_CONCURRENCY:-2}" --hostname "aimass@%h" &
worker=$!
"$BIN/python" manage.py runserver "127.0.0.1:${PORT}" --noreload &
web=$!

stop() {
    trap - EXIT INT TERM
    kill -TERM "$web" "$worker" 2>/dev/null
    wait "$web" "$worker" 2>/dev/null
    echo "AI Mass stopped."
}
trap stop EXIT INT TERM

sleep 2
"$BIN/python" manage.py seed_demo --logins-only
echo
echo "AI Mass is running at http://127.0.0.1:${PORT}/  (Ctrl-C stops the server and the worker)"
echo
wait -n "$web" "$worker"
