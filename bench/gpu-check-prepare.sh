#!/usr/bin/env bash
# Builds .gpu-carry/ (git-ignored), what bench/gpu-check.sh needs on a GPU machine that has python3
# with torch but no node, no network and no ../shared: the node binary, the node_modules files
# cnnfeat opens (found by tracing a small run of the check here, with strace), dist/, the real
# MobileNet of ../shared/models, the peer scripts of ../shared/bench and the .deb files of the
# Vulkan loader and the glvnd libraries. Everything is xz-compressed; the total must stay under the
# 64 MiB a device run carries. Run from anywhere: bash bench/gpu-check-prepare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/.gpu-carry
shared=$root/../shared
limit=$((64 * 1024 * 1024))
mobilenet=$shared/models/mobilenet_v1_0.75_224
for need in strace xz apt-get; do command -v "$need" >/dev/null || { echo "gpu-check-prepare: $need is needed" >&2; exit 2; }; done
[ -f "$mobilenet/model.json" ] || { echo "gpu-check-prepare: $mobilenet not found (../shared/models)" >&2; exit 2; }
[ -f "$shared/bench/peer_torch_gpu.py" ] || { echo "gpu-check-prepare: ../shared/bench/peer_torch_gpu.py not found" >&2; exit 2; }

rm -rf "$out"
mkdir -p "$out/debs"
npm run -s build

# The files node opens under node_modules during a small run of what the check runs (tiny
# sizes, on whatever WebGPU adapter is here, lavapipe included; its figures are thrown away).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"${PYTHON:-/usr/bin/python3}" "$shared/bench/make_photos.py" "$work/photos" 8 >/dev/null
CNNFEAT_CACHE=$work/cache strace -f -qq -e trace=openat,open,execve -o "$work/trace" \
  node bench/index.mjs --only gpu --gpu-software --gpu-dir "$work/photos" --gpu-raw-images 2 \
  --gpu-model test/fixtures/torch-tiny.onnx --gpu-preprocess torch \
  --gpu-equality-model "$mobilenet/model.json" --gpu-equality-preprocess tf --gpu-equality-layer global_average_pooling2d_1 \
  --gpu-peer /nonexistent >/dev/null 2>"$work/bench.err" || { tail -5 "$work/bench.err" >&2; exit 1; }
CNNFEAT_CACHE=$work/cache strace -f -qq -e trace=openat,open -o "$work/trace-info" node bin/cnnfeat.js info >/dev/null 2>&1
cat "$work/trace" "$work/trace-info" | grep -o "\"$root/node_modules/[^\"]*\"" | tr -d '"' | sort -u |
  while read -r f; do [ -f "$f" ] && realpath -s -m --relative-to="$root" "$f"; done | grep '^node_modules/' > "$work/files"
# onnxruntime's whole linux-x64 folder (the CUDA provider's libraries are not there unless installed)
find node_modules/onnxruntime-node/bin/napi-v6/linux/x64 -type f >> "$work/files"
sort -u -o "$work/files" "$work/files"
tar -cf - -T "$work/files" | xz -T0 -9 > "$out/node_modules.tar.xz"
tar -cf - dist | xz -T0 -9 > "$out/dist.tar.xz"
xz -T0 -9 -c "$(command -v node)" > "$out/node.xz"
tar -cf - -C "$shared/models" mobilenet_v1_0.75_224 | xz -T0 -9 > "$out/mobilenet.tar.xz"
cp "$shared/bench/make_photos.py" "$shared/bench/peer_torch_gpu.py" "$out/"
(cd "$out/debs" && apt-get download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2 >/dev/null 2>&1) || { echo "gpu-check-prepare: apt-get download failed" >&2; exit 1; }
git rev-parse HEAD > "$out/commit"

total=$(du -sb "$out" | cut -f1)
du -sh "$out"/* "$out"/debs | sed 's/^/  /'
echo "gpu-check-prepare: $(wc -l < "$work/files") node_modules files; .gpu-carry is $((total / 1024 / 1024)) MiB of the 64 MiB a run carries"
[ "$total" -le "$limit" ] || { echo "gpu-check-prepare: too big for one device run" >&2; exit 1; }
