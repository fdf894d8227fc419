/** The GPU side of `cnnfeat info`: providers, GPUs, Vulkan drivers, a WebGPU probe and what `auto` does here. */
import { CUDA_FIX, planGpu } from './choice.js';
import { gpuFacts, type GpuFacts } from './facts.js';
import { probeWebGpu, type WebGpuProbe } from './probe.js';

/** What `cnnfeat info` reports about GPUs. */
export interface GpuStatus {
  providers: GpuFacts['providers'];
  devices: GpuFacts['devices'];
  /** Linux: the Vulkan loader and drivers the WebGPU provider (Dawn) would use; null elsewhere. */
  vulkan: { loader: string | null; drivers: GpuFacts['vulkanDrivers'] } | null;
  /** The WebGPU provider started on a one-node graph (null when onnxruntime-node does not list it). */
  webgpu: WebGpuProbe | null;
  /** What `--device auto` does on this machine. */
  auto: string;
}

/** Reads the machine's GPU facts and probes the WebGPU provider. */
export async function gpuStatus(): Promise<GpuStatus> {
  const facts = gpuFacts();
  const plan = planGpu({ kind: 'auto' }, facts);
  const first = plan.candidates[0];
  const auto = first
    ? `tries ${first.provider} on ${first.adapter}, kept when it runs a batch faster than the CPU provider (timed when a model loads)`
    : `the CPU: ${plan.reason}${plan.fix ? ` (for a GPU: ${plan.fix})` : ''}`;
  return {
    providers: facts.providers,
    devices: facts.devices,
    vulkan: facts.platform === 'linux' ? { loader: facts.vulkanLoader, drivers: facts.vulkanDrivers } : null,
    webgpu: facts.providers.some((p) => p.name === 'webgpu') ? await probeWebGpu() : null,
    auto,
  };
}

/** `cnnfeat info`'s text lines for the GPU status. */
export function gpuStatusLines(s: GpuStatus): string[] {
  const provider = (p: GpuStatus['providers'][number]) => (p.installed ? p.name : `${p.name} (not installed${p.name === 'cuda' ? `: ${CUDA_FIX}` : ''})`);
  const lines = [
    `providers ${s.providers.map(provider).join(', ') || 'onnxruntime-node does not load'}`,
    `gpus      ${s.devices.length > 0 ? s.devices.map((d) => `${d.name} (${d.node})`).join(', ') : 'none found'}`,
  ];
  if (s.vulkan) {
    const drivers = s.vulkan.drivers.map((d) => `${d.library}${d.kind === 'software' ? ' (software)' : ''}`);
    lines.push(`vulkan    loader ${s.vulkan.loader ?? 'not found (libvulkan1)'}; drivers: ${drivers.join(', ') || 'none'}`);
  }
  if (s.webgpu) {
    const w = s.webgpu;
    const messages = w.driverMessages > 0 ? `; ${w.driverMessages} driver message line(s) on stderr` : '';
    lines.push(`webgpu    ${w.ok ? `starts on ${w.adapter} (${w.ms} ms)` : `does not start: ${w.error}`}${messages}`);
  }
  lines.push(`device    auto takes ${s.auto}`);
  return lines;
}
