#!/usr/bin/env bash
# Create the virtual environment and install the pinned requirements into it.
# On a fresh Debian/Ubuntu machine the only system package this may need is python3-venv.
set -euo pipefail
venv=${1:-.venv}
reqs=${2:-requirements-dev.txt}
python=${PYTHON:-python3}

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "bootstrap: Python 3.11 or newer is required ($python is $("$python" --version 2>&1))" >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    if ! "$python" -m venv "$venv" 2>/dev/null; then
        rm -rf "$venv"
        if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
            echo "bootstrap: installing python3-venv with apt-get" >&2
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
            "$python" -m venv "$venv"
        else
            echo "bootstrap: '$python -m venv' failed; install python3-venv (Debian/Ubuntu)" >&2
            exit 1
        fi
    fi
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs"

# RapidOCR's OpenCV wheel loads the system's libGL and GLib; slim images lack them. Only a
# venv with OpenCV in it needs them (not checkov's).
has_cv2='import importlib.util, sys; sys.exit(importlib.util.find_spec("cv2") is None)'
if "$venv/bin/python" -c "$has_cv2" && ! "$venv/bin/python" -c 'import cv2' 2>/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "bootstrap: installing libgl1 and libglib2.0-0 for OpenCV with apt-get" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgl1 libglib2.0-0
    else
        echo "bootstrap: OpenCV cannot load (install libgl1 libglib2.0-0); the 'auto'" \
             "engine will run on Tesseract alone" >&2
    fi
fi

# pdftotext (poppler-utils) checks the searchable PDFs in the tests; never needed at run time.
if ! command -v pdftotext >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "bootstrap: installing poppler-utils (pdftotext) with apt-get" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils
    else
        echo "bootstrap: pdftotext is missing (install poppler-utils); its tests will skip" >&2
    fi
fi
