#!/usr/bin/env bash
# Runs one of the Feast peer's two servers in the foreground (exec: the process id is the
# server's, so that the caller can stop it). rapport-bench's peer.rs starts both this way.
#
#   bash bench/peers/feast/serve.sh redis PORT DIR   # redis-server on 127.0.0.1:PORT, in memory only
#   bash bench/peers/feast/serve.sh feast PORT DIR   # feast serve on 127.0.0.1:PORT, for the
#                                                    # repository load.py copied into DIR/repo
#
# feast serve is gunicorn: a master and FEAST_SERVE_WORKERS (default 1) uvicorn workers, which
# are its children. Its control socket (gunicorn's default: ~/.gunicorn) and Feast's Prometheus
# files (default: a new directory in /tmp) go to DIR. The venv is
# ${FEAST_PEER_DIR:-target/feast-peer}/venv, relative to the repository root, as setup.sh
# makes it.
set -euo pipefail

usage() {
    echo "usage: serve.sh redis|feast PORT DIR" >&2
    exit 2
}
[ $# -eq 3 ] || usage
what=$1
port=$2
dir=$(cd "$3" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)

case $what in
redis)
    exec redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --daemonize no --dir "$dir"
    ;;
feast)
    peer_dir=${FEAST_PEER_DIR:-target/feast-peer}
    case $peer_dir in /*) ;; *) peer_dir=$root/$peer_dir ;; esac
    export XDG_RUNTIME_DIR=$dir PYTHONDONTWRITEBYTECODE=1 FEAST_PEER_DATA=$dir
    # Feast keeps Prometheus' multiprocess files in a directory of /tmp of its own, which a
    # killed server leaves behind: in DIR instead.
    mkdir -p "$dir/metrics"
    export PROMETHEUS_MULTIPROCESS_DIR=$dir/metrics PROMETHEUS_MULTIPROC_DIR=$dir/metrics
    # --max-requests 0: gunicorn would otherwise restart its worker every ~1,000 requests.
    exec "$peer_dir/venv/bin/feast" -c "$dir/repo" serve --host 127.0.0.1 --port "$port" \
        --workers "${FEAST_SERVE_WORKERS:-1}" --no-access-log --max-requests 0
    ;;
*) usage ;;
esac
