#!/usr/bin/env bash
# Creates .venv inside the checkout and installs everything the app and the tests need.
# Idempotent: does nothing (in well under a second) when pyproject.toml and this script are unchanged.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.influence-lab-stamp"
want="$(cat "$root/pyproject.toml" "$root/scripts/bootstrap.sh" | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
echo "influence-lab: setting up $venv (first run only) ..." >&2
python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip --quiet)
# The CPU build of torch, pinned first: an unpinned torch would pull a multi-GB CUDA build.
"${pip[@]}" install "torch==2.13.0"
"${pip[@]}" install -e "$root[test]"
echo "$want" > "$stamp"
echo "influence-lab: set-up done." >&2
