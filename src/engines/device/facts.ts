/**
 * What this machine offers a GPU provider, read from the system without starting one: the Vulkan
 * loader and drivers (the WebGPU provider runs on Dawn over Vulkan on Linux), the GPUs the kernel
 * exposes, and onnxruntime-node's CUDA provider files. onnxruntime-node itself reports nothing
 * about the WebGPU adapter it takes, so these are also what names the adapter.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

/** A Vulkan driver (ICD) the loader would read. */
export interface VulkanDriver {
  /** Its manifest (e.g. /usr/share/vulkan/icd.d/nvidia_icd.json). */
  manifest: string;
  /** The driver library the manifest names (e.g. libGLX_nvidia.so.0). */
  library: string;
  /** `software`: a CPU rasteriser (lavapipe/llvmpipe, SwiftShader); `nvidia`; `drm`: a Mesa or other kernel-DRM driver. */
  kind: 'software' | 'nvidia' | 'drm';
}

/** A GPU the kernel exposes. */
export interface GpuDevice {
  /** e.g. "NVIDIA H200", or "amdgpu 0x1002:0x73bf". */
  name: string;
  /** Its device node (/dev/nvidia0, /dev/dri/renderD128). */
  node: string;
  vendor: 'nvidia' | 'other';
}

/** What the machine offers the GPU providers. */
export interface GpuFacts {
  platform: NodeJS.Platform;
  /** onnxruntime-node's providers (`listSupportedBackends`): bundled, or installed by its install script. */
  providers: { name: string; bundled: boolean; installed: boolean }[];
  /** The Vulkan loader library found (Linux), or null. */
  vulkanLoader: string | null;
  vulkanDrivers: VulkanDriver[];
  devices: GpuDevice[];
  /**
   * An NVIDIA Vulkan driver manifest outside the loader's search path (some container runtimes
   * mount the driver under /usr/local/nvidia), which VK_DRIVER_FILES would make usable; or null.
   */
  strayNvidiaDriver?: string | null;
}

/** Where container runtimes put the NVIDIA driver's Vulkan manifest outside the Vulkan loader's search path. */
const STRAY_NVIDIA_DRIVER_MANIFESTS = ['/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json', '/usr/local/nvidia/etc/vulkan/icd.d/nvidia_icd.json'];

const SOFTWARE_DRIVER = /lvp|lavapipe|llvmpipe|swiftshader/i;

/** The adapter's name when Mesa's software Vulkan driver runs the WebGPU provider. */
export const SOFTWARE_ADAPTER = 'llvmpipe (lavapipe, software Vulkan)';

/**
 * Mesa's software Vulkan driver (lavapipe) starts threads named llvmpipe-N when a device is
 * created on it (enumerating it starts none): present after a WebGPU session started, they show
 * that the provider's adapter is lavapipe.
 */
export function softwareRasterizerRuns(names: string[]): boolean {
  return names.some((name) => /^llvmpipe-\d+$/.test(name));
}
const require = createRequire(import.meta.url);

/** The CPU as an adapter name: its model and core count. */
export function cpuName(): string {
  const model = os.cpus()[0]?.model?.trim();
  return `${model || 'CPU'} (${os.availableParallelism()} cores)`;
}

/** Reads the GPU facts of this machine (cheap: files only, no GPU library is loaded). */
export function gpuFacts(env: NodeJS.ProcessEnv = process.env): GpuFacts {
  const linux = process.platform === 'linux';
  return {
    platform: process.platform,
    providers: onnxProviders(),
    vulkanLoader: linux ? findLibrary('libvulkan.so.1', env) : null,
    vulkanDrivers: linux ? vulkanDrivers(env) : [],
    devices: linux ? gpuDevices() : [],
    strayNvidiaDriver: linux ? (STRAY_NVIDIA_DRIVER_MANIFESTS.find((f) => existsSync(f)) ?? null) : null,
  };
}

/** onnxruntime-node's execution providers; the CUDA/TensorRT ones count as installed when their libraries are in its folder. */
function onnxProviders(): GpuFacts['providers'] {
  try {
    const ort = require('onnxruntime-node') as { listSupportedBackends?: () => { name: string; bundled: boolean }[] };
    const dir = onnxBinaryDir();
    return (ort.listSupportedBackends?.() ?? [{ name: 'cpu', bundled: true }]).map(({ name, bundled }) => ({
      name,
      bundled,
      installed: bundled || providerLibraries(name).every((lib) => existsSync(path.join(dir, lib))),
    }));
  } catch {
    return [];
  }
}

/** Folder of onnxruntime-node's native libraries for this platform. */
function onnxBinaryDir(): string {
  return path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
}

/** Libraries a provider that onnxruntime-node does not bundle needs in its folder. */
function providerLibraries(provider: string): string[] {
  if (provider === 'cuda') return ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
  if (provider === 'tensorrt') return ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_tensorrt.so'];
  return [];
}

/** Where the dynamic loader looks for a library (LD_LIBRARY_PATH, then the usual system folders); the path found, or null. */
function findLibrary(name: string, env: NodeJS.ProcessEnv): string | null {
  const multiarch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch as string] ?? '';
  const dirs = [
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    ...(multiarch ? [`/usr/lib/${multiarch}`, `/lib/${multiarch}`, `/usr/local/lib/${multiarch}`] : []),
    '/usr/lib64',
    '/lib64',
    '/usr/lib',
    '/lib',
    '/usr/local/lib',
  ];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (existsSync(file)) return file;
  }
  return null;
}

/**
 * The Vulkan drivers the loader would read, following its search rules on Linux: only the
 * manifests VK_DRIVER_FILES (or the older VK_ICD_FILENAMES) lists when set, else the icd.d folders
 * of the XDG config and data directories and /etc; VK_ADD_DRIVER_FILES adds to either.
 */
export function vulkanDrivers(env: NodeJS.ProcessEnv = process.env): VulkanDriver[] {
  const listed = (value: string | undefined) => (value ?? '').split(':').filter(Boolean);
  const only = listed(env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES);
  const home = os.homedir();
  const defaults = [
    env.XDG_CONFIG_HOME ?? path.join(home, '.config'),
    ...listed(env.XDG_CONFIG_DIRS ?? '/etc/xdg'),
    '/usr/local/etc',
    '/etc',
    env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'),
    ...listed(env.XDG_DATA_DIRS ?? '/usr/local/share:/usr/share'),
  ].map((d) => path.join(d, 'vulkan', 'icd.d'));
  const sources = [...(only.length > 0 ? only : defaults), ...listed(env.VK_ADD_DRIVER_FILES)];
  const manifests = [...new Set(sources.flatMap(jsonFilesAt))];
  return manifests.flatMap((manifest) => {
    const library = driverLibrary(manifest);
    if (!library) return [];
    const base = path.basename(library);
    const kind = SOFTWARE_DRIVER.test(base) ? 'software' : /nvidia/i.test(base) ? 'nvidia' : 'drm';
    return [{ manifest, library, kind }];
  });
}

/** A manifest file, or the .json files in a folder (none when it is missing). */
function jsonFilesAt(place: string): string[] {
  try {
    return readdirSync(place)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => path.join(place, f));
  } catch {
    return place.endsWith('.json') && existsSync(place) ? [place] : [];
  }
}

function driverLibrary(manifest: string): string | null {
  try {
    const json = JSON.parse(readFileSync(manifest, 'utf8')) as { ICD?: { library_path?: string } };
    return json.ICD?.library_path ?? null;
  } catch {
    return null;
  }
}

/** NVIDIA GPUs (from the driver's /proc files or device nodes) and other GPUs' DRM render nodes. */
function gpuDevices(): GpuDevice[] {
  const nvidia = nvidiaDevices();
  const others = listDir('/sys/class/drm')
    .filter((n) => /^renderD\d+$/.test(n))
    .flatMap((node): GpuDevice[] => {
      const dev = `/sys/class/drm/${node}/device`;
      const vendor = readTrimmed(`${dev}/vendor`);
      if (vendor === '0x10de' && nvidia.length > 0) return [];
      const driver = safe(() => path.basename(readlinkSync(`${dev}/driver`))) ?? 'gpu';
      return [{ name: `${driver} ${vendor ?? '?'}:${readTrimmed(`${dev}/device`) ?? '?'}`, node: `/dev/dri/${node}`, vendor: vendor === '0x10de' ? 'nvidia' : 'other' }];
    });
  return [...nvidia, ...others];
}

function nvidiaDevices(): GpuDevice[] {
  const fromProc = listDir('/proc/driver/nvidia/gpus').flatMap((bus) => {
    const info = readTrimmed(`/proc/driver/nvidia/gpus/${bus}/information`) ?? '';
    const model = /^Model:\s*(.+)$/m.exec(info)?.[1]?.trim();
    const minor = /^Device Minor:\s*(\d+)$/m.exec(info)?.[1];
    return [{ name: model ?? `NVIDIA GPU ${bus}`, node: `/dev/nvidia${minor ?? '?'}`, vendor: 'nvidia' as const }];
  });
  if (fromProc.length > 0) return fromProc;
  return listDir('/dev')
    .filter((n) => /^nvidia\d+$/.test(n))
    .map((n) => ({ name: `NVIDIA GPU (/dev/${n})`, node: `/dev/${n}`, vendor: 'nvidia' as const }));
}

function listDir(dir: string): string[] {
  return safe(() => readdirSync(dir).sort()) ?? [];
}

function readTrimmed(file: string): string | null {
  return safe(() => readFileSync(file, 'utf8').trim());
}

function safe<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}
