/**
 * Which execution provider a session tries, from `--device` and the machine's GPU facts: the
 * candidates in order, or why there is none and what would fix it. Starting a session (and, for
 * `auto`, timing it against the CPU provider) is the engine's part.
 */
import { CnnfeatError, optionName } from '../../errors.js';
import { SOFTWARE_ADAPTER, type GpuFacts } from './facts.js';

/** `--device`: where inference runs. */
export const DEVICE_CHOICES = ['auto', 'cpu', 'gpu', 'webgpu', 'cuda'] as const;
export type DeviceKind = (typeof DEVICE_CHOICES)[number];

/** A parsed `--device`: `cuda:1` is kind cuda, index 1. */
export interface DeviceRequest {
  kind: DeviceKind;
  /** GPU index (CUDA only: the WebGPU provider takes no adapter index). */
  index?: number;
}

/** onnxruntime execution providers cnnfeat runs on. */
export type Provider = 'cpu' | 'webgpu' | 'cuda';

/** A GPU provider to try, with the adapter the facts say it will get. */
export interface GpuCandidate {
  provider: Exclude<Provider, 'cpu'>;
  deviceId: number;
  /** The adapter as the facts name it (onnxruntime does not report it). */
  adapter: string;
  /** A CPU rasteriser posing as a GPU (lavapipe, SwiftShader): slower than the CPU provider. */
  software: boolean;
}

/** The GPU providers to try for a request, or why there are none and the fix. */
export interface GpuPlan {
  candidates: GpuCandidate[];
  /** Why no (hardware) GPU provider is tried, when none is. */
  reason: string | null;
  /** What would make one work (packages, container capability, install command). */
  fix: string | null;
}

/** Debian/Ubuntu packages the WebGPU provider needs on Linux: the Vulkan loader and the glvnd libraries the NVIDIA driver's Vulkan part loads. */
export const VULKAN_PACKAGES = 'libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2';
export const VULKAN_FIX = `install the Vulkan loader and the glvnd libraries (Debian/Ubuntu: apt-get install ${VULKAN_PACKAGES})`;
export const CONTAINER_FIX = 'in a container the NVIDIA runtime mounts the Vulkan driver only when NVIDIA_DRIVER_CAPABILITIES includes graphics (e.g. NVIDIA_DRIVER_CAPABILITIES=all)';
export const CUDA_FIX = 'install onnxruntime-node\'s CUDA provider: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --ignore-scripts=false (it needs CUDA 12 and cuDNN 9)';

/** onnxruntime's provider error without its source path: "Failed to get a WebGPU adapter: No supported adapters". */
export function shortProviderError(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
  const failed = /(Failed to [^.]*(?:\.|$))/.exec(message)?.[1];
  const short = failed ?? message.replace(/^.*\bwas false\.\s*/, '');
  return short.length > 240 ? `${short.slice(0, 237)}...` : short;
}

/**
 * Parses the `device` option (`--device`): `auto|cpu|gpu|webgpu|cuda[:N]`.
 * @throws CnnfeatError (exit 2) naming the option, on anything else
 */
export function parseDevice(value: string): DeviceRequest {
  const match = /^([a-z]+)(?::(\d+))?$/.exec(value.trim().toLowerCase());
  const kind = match?.[1] as DeviceKind | undefined;
  if (!match || !kind || !DEVICE_CHOICES.includes(kind)) {
    throw new CnnfeatError(`${optionName('device', value)}: unknown device; use one of ${DEVICE_CHOICES.join(', ')} (cuda:N for the N-th CUDA GPU)`);
  }
  if (match[2] === undefined) return { kind };
  if (kind !== 'cuda') {
    const why = kind === 'webgpu' || kind === 'gpu' ? 'the WebGPU provider takes no adapter index: give each process one GPU (see the GPU section of docs/engines.md) or use cuda:N' : 'only CUDA devices are numbered';
    throw new CnnfeatError(`${optionName('device', value)}: ${why}`);
  }
  return { kind, index: Number(match[2]) };
}

/** The device request as written on the command line. */
export function deviceName(req: DeviceRequest): string {
  return req.index === undefined ? req.kind : `${req.kind}:${req.index}`;
}

/**
 * The GPU providers to try for `req` (in order), from the machine's facts. `auto` and `gpu`
 * take hardware adapters only: CUDA when its provider is installed and an NVIDIA GPU is there,
 * then WebGPU on a hardware Vulkan driver with its device (or the system's GPU API elsewhere);
 * `webgpu` also takes a software Vulkan driver (lavapipe), `cuda` only CUDA.
 */
export function planGpu(req: DeviceRequest, facts: GpuFacts, { allowSoftware = false } = {}): GpuPlan {
  if (req.kind === 'cpu') return { candidates: [], reason: 'the CPU was asked for (--device cpu)', fix: null };
  if (req.kind === 'cuda') return cudaPlan(req, facts);
  const cuda = req.kind === 'webgpu' ? [] : cudaPlan(req, facts).candidates;
  const webgpu = webgpuPlan(facts);
  const software = allowSoftware || req.kind === 'webgpu';
  const usable = (c: GpuCandidate) => software || !c.software;
  const candidates = [...cuda, ...webgpu.candidates].filter(usable);
  if (candidates.length > 0) return { candidates, reason: null, fix: null };
  const soft = webgpu.candidates.find((c) => c.software);
  if (!soft) return { candidates: [], reason: webgpu.reason, fix: webgpu.fix };
  return {
    candidates: [],
    reason: `${webgpu.reason ?? 'no hardware GPU adapter'}; the only WebGPU adapter is ${soft.adapter}, slower than the CPU provider`,
    fix: `${webgpu.fix ?? 'a GPU with its Vulkan driver'}; --device webgpu runs on the software adapter anyway`,
  };
}

function cudaPlan(req: DeviceRequest, facts: GpuFacts): GpuPlan {
  const provider = facts.providers.find((p) => p.name === 'cuda');
  if (!provider) return { candidates: [], reason: 'this onnxruntime-node build has no CUDA provider', fix: null };
  if (!provider.installed) return { candidates: [], reason: "onnxruntime-node's CUDA provider is not installed", fix: CUDA_FIX };
  const nvidia = facts.devices.filter((d) => d.vendor === 'nvidia');
  if (facts.platform === 'linux' && nvidia.length === 0) return { candidates: [], reason: 'no NVIDIA GPU found (/dev/nvidia*)', fix: 'run on a machine with an NVIDIA GPU and its driver (in a container: the NVIDIA container runtime)' };
  const deviceId = req.index ?? 0;
  if (nvidia.length > 0 && deviceId >= nvidia.length) {
    return { candidates: [], reason: `there is no CUDA GPU ${deviceId} (${nvidia.length} found)`, fix: `use cuda:0 … cuda:${nvidia.length - 1}` };
  }
  return { candidates: [{ provider: 'cuda', deviceId, adapter: nvidia[deviceId]?.name ?? 'CUDA GPU', software: false }], reason: null, fix: null };
}

function webgpuPlan(facts: GpuFacts): GpuPlan {
  const provider = facts.providers.find((p) => p.name === 'webgpu');
  if (!provider) return { candidates: [], reason: 'this onnxruntime-node build has no WebGPU provider', fix: null };
  if (facts.platform !== 'linux') {
    const api = facts.platform === 'darwin' ? 'Metal' : facts.platform === 'win32' ? 'D3D12' : 'the system GPU API';
    return { candidates: [{ provider: 'webgpu', deviceId: 0, adapter: `the system's GPU (${api})`, software: false }], reason: null, fix: null };
  }
  const nvidia = facts.devices.filter((d) => d.vendor === 'nvidia');
  const drm = facts.devices.filter((d) => d.vendor !== 'nvidia');
  if (!facts.vulkanLoader) {
    const gpu = facts.devices.length > 0 ? `a GPU (${facts.devices[0]!.name}) but ` : '';
    return { candidates: [], reason: `${gpu}no Vulkan loader (libvulkan.so.1)`, fix: VULKAN_FIX };
  }
  const hardware: GpuCandidate[] = [];
  const drivers = facts.vulkanDrivers;
  if (nvidia.length > 0 && drivers.some((d) => d.kind === 'nvidia')) hardware.push(webgpuCandidate(nvidia));
  if (drm.length > 0 && drivers.some((d) => d.kind === 'drm')) hardware.push(webgpuCandidate(drm));
  const softwareDriver = drivers.find((d) => d.kind === 'software');
  const softwareName = /swiftshader/i.test(softwareDriver?.library ?? '') ? 'SwiftShader (software Vulkan)' : SOFTWARE_ADAPTER;
  const software: GpuCandidate[] = softwareDriver ? [{ provider: 'webgpu', deviceId: 0, adapter: softwareName, software: true }] : [];
  // Dawn asks for a high-performance adapter: hardware GPUs rank before software ones.
  const candidates = hardware.length > 0 ? hardware.slice(0, 1) : software;
  if (nvidia.length > 0 && !drivers.some((d) => d.kind === 'nvidia')) {
    const reason = `an NVIDIA GPU (${nvidia[0]!.name}) but no NVIDIA Vulkan driver (nvidia_icd.json)`;
    if (facts.strayNvidiaDriver) {
      return { candidates, reason: `${reason} where the Vulkan loader looks`, fix: `point the loader at the driver's manifest: export VK_DRIVER_FILES=${facts.strayNvidiaDriver}` };
    }
    return { candidates, reason, fix: `${CONTAINER_FIX}; on a host, install the driver's Vulkan/GL part` };
  }
  if (hardware.length > 0) return { candidates, reason: null, fix: null };
  if (facts.devices.length === 0) {
    return { candidates, reason: drivers.length === 0 ? 'no GPU and no Vulkan driver found' : 'no GPU found (/dev/nvidia*, /dev/dri/renderD*)', fix: 'run on a machine with a GPU and its driver (in a container, give it the GPU)' };
  }
  return { candidates, reason: `a GPU (${facts.devices[0]!.name}) but no Vulkan driver for it`, fix: "install the GPU's Vulkan driver (Mesa: mesa-vulkan-drivers)" };
}

function webgpuCandidate(devices: GpuFacts['devices']): GpuCandidate {
  const names = [...new Set(devices.map((d) => d.name))];
  const adapter = devices.length === 1 ? names[0]! : `${names.join(', ')} (${devices.length} GPUs; Dawn takes one of them)`;
  return { provider: 'webgpu', deviceId: 0, adapter, software: false };
}
