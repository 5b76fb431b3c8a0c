#!/usr/bin/env bash
# Starts the web server, a Celery worker consuming every queue and the DICOM C-STORE SCP;
# Ctrl-C (or SIGTERM) stops all three, and if one dies the others are stopped too.
set -uo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8000}"
BIN=.venv/bin

"$BIN/celery" -A config worker -Q default,gpu,scheduling --loglevel INFO \
    --concurrency "${CELERY_CONCURRENCY:-2}" --hostname "aimass@%h" --beat &
worker=$!
"$BIN/python" manage.py runserver "127.0.0.1:${PORT}" --noreload &
web=$!
"$BIN/python" manage.py dicom_scp --port "${DICOM_PORT:-11112}" --ae-title "${DICOM_AE_TITLE:-AIMASS}" &
scp=$!

stop() {
    trap - EXIT INT TERM
    kill -TERM "$web" "$worker" "$scp" 2>/dev/null
    wait "$web" "$worker" "$scp" 2>/dev/null
    echo "AI Mass stopped."
}
trap stop EXIT INT TERM

sleep 2
"$BIN/python" manage.py seed_demo --logins-only
echo
echo "AI Mass is running at http://127.0.0.1:${PORT}/  (Ctrl-C stops everything)"
echo "DICOMweb: http://127.0.0.1:${PORT}/dicomweb   C-STORE: AE ${DICOM_AE_TITLE:-AIMASS} on port ${DICOM_PORT:-11112}"
echo
wait -n "$web" "$worker" "$scp"
