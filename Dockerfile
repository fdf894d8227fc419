# cnnfeat in a container (the Kubernetes example runs this image):
#
#   docker build -t cnnfeat .
#   docker run --rm -v "$PWD:/data" cnnfeat run /data/hymenoptera -o /data/out
#   docker run --rm --gpus all -e NVIDIA_DRIVER_CAPABILITIES=all -v "$PWD:/data" cnnfeat run /data/hymenoptera -o /data/out
#
# The ENTRYPOINT is exec form: node is the container's main process (PID 1) and gets the SIGTERM
# of `docker stop` or of a pod's termination itself, so an extraction stops at its next checkpoint
# (exit code 143) and `--resume` continues it. Through `sh -c` or `npx` the signal would stop at
# the shell (see "Stopping and signals" in README.md).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
# The project's .npmrc turns install scripts off (no CUDA download), so dist/ is built by name;
# the development dependencies (TypeScript) are then removed.
RUN npm ci && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# The Vulkan loader and the glvnd libraries: with them onnxruntime's WebGPU provider runs on the
# host's GPU (the NVIDIA runtime mounts its Vulkan driver with NVIDIA_DRIVER_CAPABILITIES=all);
# without a GPU cnnfeat runs on the CPU as before (--device auto).
RUN apt-get update && apt-get install -y --no-install-recommends libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2 \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
ENTRYPOINT ["node", "/app/bin/cnnfeat.js"]
CMD ["--help"]
