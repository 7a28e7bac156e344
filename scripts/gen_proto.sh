#!/usr/bin/env bash
# Regenerate the Python stubs of proto/screencodec/v1/screencodec.proto into service/api/.
# The generated files are committed so that a fresh clone runs without protoc; rerun this after
# editing the .proto and commit the result. Needs grpcio-tools (in requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT=service/api

"$PY" -m grpc_tools.protoc -I proto \
  --python_out="$OUT" --pyi_out="$OUT" --grpc_python_out="$OUT" \
  proto/screencodec/v1/screencodec.proto

# protoc writes absolute imports rooted at the proto path ("from screencodec.v1 import ...");
# root them at our package instead so that no sys.path tweak is needed.
sed -i 's/^from screencodec\.v1 import/from service.api.screencodec.v1 import/' \
  "$OUT/screencodec/v1/screencodec_pb2_grpc.py"
for d in "$OUT" "$OUT/screencodec" "$OUT/screencodec/v1"; do
  [[ -f "$d/__init__.py" ]] || : > "$d/__init__.py"
done
echo "generated into $OUT/screencodec/v1"
