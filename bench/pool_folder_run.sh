#!/usr/bin/env bash
# Colorization pretrained on a plain folder of the LFW pool pictures, then fine-tuned at k=10 on the
# 5 draws of the standard study (same recipe), to compare with the LFW-pool run of runs/study_std.
set -euo pipefail
export PYTHONPATH=/tmp/snap/src OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=/work/main/.venv/bin/python
cd /work/main/runs/pool-folder
$PY -m proxytask pretrain --config /work/main/runs/study_std/pretrain/colorization/config.yaml --out colorization \
   --pool /work/pool_lfw --set data.folder_crop=face --set data.lfw=/work/shared/data/lfw $( [ -f colorization/config.yaml ] && echo --resume )
for d in 0 1 2 3 4; do
  [ -f ft-k10-d$d/result.json ] || $PY -m proxytask finetune --init colorization --k 10 --draw $d --out ft-k10-d$d --preset standard --lfw /work/shared/data/lfw
done
echo DONE
