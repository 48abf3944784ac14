set -x
nvidia-smi -L
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site . 2>&1 | tail -5
python3 -c "import judge, judge_benchmarks; print(judge.__file__, judge_benchmarks.__file__)"
PYTHONUNBUFFERED=1 python3 tests/device/gpu_check.py 2>&1 | tee $OUT/gpu_check.txt
