#!/usr/bin/env bash
# Creates (or refreshes) the project's virtualenv in .venv with the package and its test extra.
# Re-installs only when pyproject.toml changed since the last install, so repeated runs are quick.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${ADDLINK_PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "venv: creating $venv with $($python --version 2>&1)"
    "$python" -m venv "$venv"
fi
stamp="$venv/.addlink-installed"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
    echo "venv: installing addlink-stream and its dependencies"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e "$root[test]"
    touch "$stamp"
fi
# The native engine (native/, Rust via maturin): rebuilt when its sources changed since the last build.
native_stamp="$venv/.addlink-native-installed"
if [ ! -f "$native_stamp" ] || [ -n "$(find "$root/native" -path "$root/native/target" -prune -o -newer "$native_stamp" -type f -print -quit)" ]; then
    echo "venv: building addlink-native (cargo, release)"
    "$venv/bin/python" -m pip install --quiet "$root/native"
    touch "$native_stamp"
fi
echo "venv: ready ($venv)"
