#!/usr/bin/env bash
# Creates (or refreshes) the project's virtualenv in .venv with the package and its test extra, and the
# native engine (native/, Rust built by maturin: pip fetches maturin from PyPI, cargo builds a release
# wheel). Re-installs the package only when pyproject.toml changed since the last install, and the
# native engine only when its sources changed (a hash of them is the stamp), so repeated runs are quick.
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
# The native engine (native/, Rust via maturin): rebuilt when a hash of its sources changes.
native_stamp="$venv/.addlink-native-installed"
native_hash="$(cd "$root" && find native -path native/target -prune -o -type f -print | LC_ALL=C sort \
    | xargs sha256sum | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$native_stamp" 2>/dev/null)" != "$native_hash" ]; then
    command -v cargo >/dev/null || { echo "venv: the native engine needs cargo (the Rust toolchain) on PATH" >&2; exit 1; }
    echo "venv: building and installing the native engine (native/, $(cargo --version))"
    "$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$root/native"
    echo "$native_hash" >"$native_stamp"
fi
echo "venv: ready ($venv)"
