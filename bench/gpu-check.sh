#!/usr/bin/env bash
# The GPU device check of issue 19, in one run on a GPU machine with python3 + torch/torchvision
# but no node, no network and no ../shared. Needs .gpu-carry/ (made here by
# bench/gpu-check-prepare.sh and carried along). From the repository root:
#
#   bash bench/gpu-check.sh
#
# It unpacks node, node_modules, dist/ and the MobileNet; installs the Vulkan loader and the glvnd
# libraries from the carried .deb files when they are missing (dpkg -x into / as root, else into
# the work folder with LD_LIBRARY_PATH); exports a torchvision ResNet50 (random weights: speed
# does not depend on them) to ONNX; writes PHOTOS photo-like 640×480 JPEGs; then runs `npm run
# bench`'s gpu section: raw CPU-provider vs GPU img/s (fp32, fp16), GPU vs CPU rows of that
# ResNet50 and of the real MobileNet, `cnnfeat extract --device auto` end to end (fp32, fp16) and
# the PyTorch GPU peer on the same photos; and prints the table of issue 19's targets.
#
# Settings (environment): PHOTOS (default 6000), RAW_IMAGES (256), ARCH (torchvision model,
# resnet50), MODEL (an ONNX file with torch preprocessing instead of the export), PYTHON
# (python3, with torch and torchvision), WORK (/tmp/cnnfeat-gpu-check),
# SOFTWARE=1 to run on a software adapter (lavapipe: a dry run of this script on a machine
# without a GPU; its figures are not GPU figures).
set -euo pipefail
cd "$(dirname "$0")/.."
carry=$PWD/.gpu-carry
work=${WORK:-/tmp/cnnfeat-gpu-check}
photos=${PHOTOS:-6000}
raw=${RAW_IMAGES:-256}
arch=${ARCH:-resnet50}
python=${PYTHON:-python3}
say() { echo "gpu-check: $*" >&2; }
[ -f "$carry/node.xz" ] || { say "no .gpu-carry/ here: run bash bench/gpu-check-prepare.sh where node is, and carry .gpu-carry"; exit 2; }
mkdir -p "$work"

say "unpacking node, node_modules, dist/ and the MobileNet (made from commit $(cat "$carry/commit" 2>/dev/null || echo '?'))"
xz -dc "$carry/node.xz" > "$work/node" && chmod +x "$work/node"
node=$work/node
rm -rf dist && tar -xJf "$carry/dist.tar.xz"
tar -xJf "$carry/node_modules.tar.xz"
tar -xJf "$carry/mobilenet.tar.xz" -C "$work"

# The WebGPU provider needs the Vulkan loader, and the NVIDIA driver's Vulkan part the glvnd libraries.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  if [ "$(id -u)" = 0 ]; then
    say "installing the Vulkan loader and glvnd libraries from the carried .deb files (dpkg -x into /)"
    for deb in "$carry"/debs/*.deb; do dpkg -x "$deb" /; done
    ldconfig
  else
    say "not root: unpacking the Vulkan loader and glvnd libraries into $work/root (LD_LIBRARY_PATH)"
    for deb in "$carry"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done
    export LD_LIBRARY_PATH="$work/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi
# Some container runtimes mount the NVIDIA driver's Vulkan and EGL manifests under /usr/local/nvidia,
# outside the loaders' search paths (cnnfeat says so and names VK_DRIVER_FILES); point them there.
if ! ls /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json >/dev/null 2>&1; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then export VK_DRIVER_FILES=$icd; say "VK_DRIVER_FILES=$icd"; fi
  done
  egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  if [ -f "$egl" ] && [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ]; then export __EGL_VENDOR_LIBRARY_FILENAMES=$egl; fi
fi
export CNNFEAT_CACHE=$work/cache

{
  echo "== machine"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || echo "nvidia-smi: not found"
  echo "cores: $(nproc); Vulkan drivers: $(ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null | tr '\n' ' ')"
  echo "NVIDIA_DRIVER_CAPABILITIES=${NVIDIA_DRIVER_CAPABILITIES:-unset}"
  echo "== cnnfeat info"
  "$node" bin/cnnfeat.js info 2>&1 || true
} | tee "$work/machine.txt"

model=${MODEL:-$work/$arch.onnx}
if [ ! -f "$model" ]; then
  say "exporting torchvision $arch (random weights) to ONNX, opset 17, dynamic batch"
  "$python" - "$arch" "$model" <<'PY'
import sys, torch, torchvision
arch, out = sys.argv[1], sys.argv[2]
model = getattr(torchvision.models, arch)().eval()
x = torch.zeros(1, 3, 224, 224)
torch.onnx.export(model, x, out, opset_version=17, input_names=['input'], output_names=['logits'], dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
print(f'{out}: {sum(p.numel() for p in model.parameters())} parameters')
PY
fi
if [ "$(find "$work/photos" -name '*.jpg' 2>/dev/null | wc -l)" -ne "$photos" ]; then
  rm -rf "$work/photos"
  say "writing $photos photo-like 640x480 JPEGs"
  "$python" "$carry/make_photos.py" "$work/photos" "$photos" >&2
fi

say "running the gpu section of the benchmark"
"$node" bench/index.mjs --only gpu ${SOFTWARE:+--gpu-software} --json-file "$work/gpu.json" \
  --gpu-model "$model" --gpu-preprocess torch --gpu-dir "$work/photos" --gpu-raw-images "$raw" \
  --gpu-equality-model "$work/mobilenet_v1_0.75_224/model.json" --gpu-equality-preprocess tf --gpu-equality-layer global_average_pooling2d_1 \
  --gpu-peer "$carry/peer_torch_gpu.py" | tee "$work/gpu.txt"
"$node" bench/gpu-check-table.mjs "$work/gpu.json" | tee "$work/targets.txt"
say "results in $work (machine.txt, gpu.txt, gpu.json, targets.txt)"
