#!/usr/bin/env bash
# The GPU checks in one run, on whatever CUDA device is present: the training step's throughput as
# a share of the measured bf16 matmul peak (vgg_small, and the paper preset's vgg16_bn at 224/176 px,
# eager and through torch.compile), then a 2-minute paper-preset pretraining, with its images/s.
#
#   PROXYTASK_LFW=path/to/lfw bash bench/gpu.sh        # OUT=folder for the run (default /tmp/proxytask-gpu)
#
# Needs the package importable (pip install -e . where the registries are reachable, or
# PYTHONPATH=src with torch, timm, kornia present). Without PROXYTASK_LFW the pretraining is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="${PYTHONPATH:-}:$(pwd)/src"
OUT="${OUT:-/tmp/proxytask-gpu}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__)"

python bench/train_throughput.py --backbones vgg_small --batch-size 256 --steps 30
python bench/train_throughput.py --backbones vgg16_bn --image-size 224 --crop-size 176 --batch-size 128 --steps 10
python bench/train_throughput.py --backbones vgg16_bn --image-size 224 --crop-size 176 --batch-size 128 --steps 10 --compile

if [[ -n "${PROXYTASK_LFW:-}" ]]; then
  rm -rf "$OUT/paper"
  timeout 150 python -m proxytask pretrain --out "$OUT/paper" --backbone vgg16_bn --batch-size 128 --max-steps 100000 \
      --set data.image_size=224 --set data.crop_size=176 --set data.workers=8 --set train.compile=true \
      --set train.log_every=20 || true   # stopped by the timeout after about 2 minutes
  python - "$OUT/paper/log.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rates = [float(r["images_per_second"]) for r in rows[2:]] or [float(r["images_per_second"]) for r in rows]
print(f"paper-preset pretraining: {rows[-1]['step']} steps in about 2 minutes, {sum(rates) / len(rates):.0f} images/s after warm-up")
PY
else
  echo "PROXYTASK_LFW not set: the 2-minute paper-preset pretraining is skipped"
fi
