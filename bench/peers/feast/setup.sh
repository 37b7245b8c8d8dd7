#!/usr/bin/env bash
# Prepares the Feast peer of rapport-bench: redis-server (Debian's package, when it is not on
# PATH) and a Python venv with the pinned Feast (requirements.txt beside this script).
#
#   bash bench/peers/feast/setup.sh
#
# The venv goes to ${FEAST_PEER_DIR:-target/feast-peer}/venv (relative to the repository root);
# PYTHON picks the interpreter that makes it (default python3, which must be 3.10 to 3.12).
# Idempotent: a venv made from the same requirements.txt is left as it is.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
here=bench/peers/feast
peer_dir=${FEAST_PEER_DIR:-target/feast-peer}
venv=$peer_dir/venv
python=${PYTHON:-python3}

if ! command -v redis-server >/dev/null 2>&1; then
    echo "setup.sh: installing redis-server" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq redis-server >/dev/null
fi
redis-server --version >&2

stamp=$venv/.requirements.sha256
wanted=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ] &&
    [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("feast"))' 2>/dev/null)" = 0.67.0 ]; then
    echo "setup.sh: $venv is up to date (feast 0.67.0)" >&2
    exit 0
fi

echo "setup.sh: installing Feast into $venv" >&2
mkdir -p "$peer_dir"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/feast" version >&2
echo "$wanted" >"$stamp"
