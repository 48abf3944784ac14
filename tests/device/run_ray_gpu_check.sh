set -x
nvidia-smi -L
cat /tmp/raypart.00 .gpu/ray2/raypart.01 > /tmp/ray-2.60.0-cp312-cp312-manylinux2014_x86_64.whl && ls -la /tmp/ray-2.60.0-cp312-cp312-manylinux2014_x86_64.whl
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl /tmp/ray-2.60.0-cp312-cp312-manylinux2014_x86_64.whl || exit 1
export PYTHONPATH=/tmp/site
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --upgrade --target /tmp/site . 2>&1 | tail -3
python3 -c "import ray, judge; print(ray.__version__)"
PYTHONUNBUFFERED=1 timeout 400 python3 tests/device/ray_gpu_check.py 2>&1 | tee $OUT/ray_check.txt
