#!/usr/bin/env bash
# Start AI Mass the way the DICOMweb benchmark measures it: gunicorn on PostgreSQL + Redis,
# plus the C-STORE SCP. Usage: bench/dicomweb_server.sh [DATA_ROOT]  (Ctrl-C stops both)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="${1:-$PWD/var/bench}"
mkdir -p "$ROOT"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/aimass_bench}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/9}"
export MEDIA_ROOT="$ROOT/media" AIMASS_VAR_DIR="$ROOT/var" DJANGO_DEBUG=false
BIN=.venv/bin

# The database is made when it does not exist yet.
"$BIN/python" - "$DATABASE_URL" <<'PY'
import sys

import psycopg

base, name = sys.argv[1].rsplit("/", 1)
with psycopg.connect(f"{base}/postgres", autocommit=True) as db:
    if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
        db.execute(f'CREATE DATABASE "{name}"')
PY
"$BIN/python" manage.py migrate --noinput -v 0
"$BIN/python" manage.py shell -c "
from clinic.models import User, Role
u, _ = User.objects.get_or_create(username='bench', defaults={'role': Role.ADMIN})
u.role = Role.ADMIN; u.set_password('bench-password'); u.save()
# An administrator signs in with two steps, so scripts send a token, not the password.
from rest_framework.authtoken.models import Token
open('$ROOT/bench-token', 'w').write(Token.objects.get_or_create(user=u)[0].key)"

"$BIN/gunicorn" config.wsgi --bind 127.0.0.1:8000 --workers "${WEB_WORKERS:-3}" \
    --worker-class gthread --threads "${WEB_THREADS:-4}" --access-logfile - \
    --access-logformat '%(s)s %(m)s %(U)s %(M)sms' > "$ROOT/gunicorn.log" 2>&1 &
web=$!
TCP_NODELAY=1 "$BIN/python" manage.py dicom_scp --port 11112 --ae-title AIMASS \
    > "$ROOT/scp.log" 2>&1 &
scp=$!
trap 'kill $web $scp 2>/dev/null; wait' EXIT INT TERM
echo "gunicorn pid $web, dicom_scp pid $scp; DICOMweb at http://127.0.0.1:8000/dicomweb"
echo "user bench; its API token is in $ROOT/bench-token (Authorization: Token ...)"
wait -n $web $scp
