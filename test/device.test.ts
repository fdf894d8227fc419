// Device choice (issue 19): --device auto|cpu|gpu|webgpu|cuda[:N], what auto takes and why, the
// one-line errors of GPU requests that cannot be met, the manifest's record, and the WebGPU
// provider itself on Mesa's lavapipe (a software Vulkan driver) where it is installed. CI has no
// GPU: "no adapter" is made real by pointing the Vulkan loader at no driver (VK_DRIVER_FILES).
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { CUDA_FIX, parseDevice, planGpu, VULKAN_PACKAGES, type GpuCandidate } from '../dist/engines/device/choice.js';
import { EXTRACT_FLAGS } from '../dist/commands/options.js';
import { nameOptionsByFlag } from '../dist/errors.js';
import { gpuFacts, vulkanDrivers, type GpuFacts } from '../dist/engines/device/facts.js';
import { probeWebGpu, type WebGpuProbe } from '../dist/engines/device/probe.js';
import { loadEngine, type EngineRequest, type EngineSource } from '../dist/engines/select.js';
import { weightsDigest } from '../dist/models/download.js';
import { cosineRows, photoBatch } from './device-helpers.js';
import { fileTempDir, lastLine, makeColourDataset, makeTinyModel, manifestOf, recordingLogger, relativeError, runCli, sharedData, type CliResult } from './helpers.js';
import { readFeatureSet } from '../dist/features/reader.js';

const NO_VULKAN_DRIVER = { VK_DRIVER_FILES: '/nonexistent/icd.json', VK_ICD_FILENAMES: '/nonexistent/icd.json' };

let work: string;
let images: string;
let model: string;
/** Whether (and on which adapter) the WebGPU provider starts here: decides which tests run. */
const webgpu: WebGpuProbe = await probeWebGpu();
before(async () => {
  work = await fileTempDir('cnnfeat-device-');
  images = await makeColourDataset(path.join(work, 'images'), { perClass: 4 });
  model = await makeTinyModel(path.join(work, 'tiny'));
});

const tiny = () => ['--model', model, '--preprocess', 'none'];
const noAdapter = () => (webgpu.ok ? false : `no WebGPU adapter on this machine (${webgpu.error}); install Mesa's lavapipe (mesa-vulkan-drivers from bookworm-backports) to run it`);

/** A failed command: its exit code, and one line on stderr that starts with `cnnfeat:` and says `pattern`. */
function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('cnnfeat:'));
  assert.equal(errors.length, 1, r.stderr);
  assert.equal(lastLine(r.stderr), errors[0]);
  assert.match(errors[0]!, pattern);
}

const facts = (over: Partial<GpuFacts>): GpuFacts => ({
  platform: 'linux',
  providers: [
    { name: 'cpu', bundled: true, installed: true },
    { name: 'webgpu', bundled: true, installed: true },
    { name: 'cuda', bundled: false, installed: false },
  ],
  vulkanLoader: '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
  vulkanDrivers: [],
  devices: [],
  ...over,
});
const H200 = { name: 'NVIDIA H200', node: '/dev/nvidia0', vendor: 'nvidia' as const };
const NVIDIA_ICD = { manifest: '/usr/share/vulkan/icd.d/nvidia_icd.json', library: 'libGLX_nvidia.so.0', kind: 'nvidia' as const };
const LAVAPIPE = { manifest: '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json', library: 'libvulkan_lvp.so', kind: 'software' as const };
const providers = (cs: GpuCandidate[]) => cs.map((c) => `${c.provider}:${c.adapter}${c.software ? ' (software)' : ''}`);

test('--device parses auto, cpu, gpu, webgpu, cuda and cuda:N; anything else is refused saying why', () => {
  assert.deepEqual(parseDevice('auto'), { kind: 'auto' });
  assert.deepEqual(parseDevice('GPU'), { kind: 'gpu' });
  assert.deepEqual(parseDevice('cuda:1'), { kind: 'cuda', index: 1 });
  assert.throws(() => parseDevice('tpu'), /^CnnfeatError: device=tpu: unknown device; use one of auto, cpu, gpu, webgpu, cuda/, 'the library names its option');
  assert.throws(() => parseDevice('webgpu:1'), /^CnnfeatError: device=webgpu:1: the WebGPU provider takes no adapter index/);
  assert.throws(() => parseDevice('cpu:0'), /only CUDA devices are numbered/);
  nameOptionsByFlag(EXTRACT_FLAGS);
  try {
    assert.throws(() => parseDevice('tpu'), /^CnnfeatError: --device tpu: unknown device/, 'the CLI names its flag');
    assert.throws(() => parseDevice('cpu:0'), /^CnnfeatError: --device cpu:0: only CUDA devices are numbered/);
  } finally {
    nameOptionsByFlag({});
  }
});

test('device plan: what auto tries, and for each missing piece the reason and the fix', () => {
  const auto = { kind: 'auto' } as const;
  // The H200 case: the NVIDIA Vulkan driver beside lavapipe; Dawn ranks the hardware adapter first.
  assert.deepEqual(providers(planGpu(auto, facts({ devices: [H200], vulkanDrivers: [LAVAPIPE, NVIDIA_ICD] })).candidates), ['webgpu:NVIDIA H200']);
  // No Vulkan loader: the Debian packages (loader + glvnd) are named.
  const noLoader = planGpu(auto, facts({ devices: [H200], vulkanLoader: null }));
  assert.deepEqual(noLoader.candidates, []);
  assert.match(noLoader.reason!, /NVIDIA H200.*no Vulkan loader \(libvulkan\.so\.1\)/);
  assert.ok(noLoader.fix!.includes(`apt-get install ${VULKAN_PACKAGES}`), noLoader.fix!);
  assert.equal(VULKAN_PACKAGES, 'libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2');
  // A container given the GPU without the graphics capability: no NVIDIA ICD.
  const noIcd = planGpu(auto, facts({ devices: [H200], vulkanDrivers: [LAVAPIPE] }));
  assert.deepEqual(noIcd.candidates, []);
  assert.match(noIcd.reason!, /^an NVIDIA GPU \(NVIDIA H200\) but no NVIDIA Vulkan driver \(nvidia_icd\.json\); the only WebGPU adapter is .*software/);
  assert.match(noIcd.fix!, /NVIDIA_DRIVER_CAPABILITIES includes graphics/);
  // The driver's manifest mounted outside the loader's search path (/usr/local/nvidia): name it.
  const stray = planGpu(auto, facts({ devices: [H200], strayNvidiaDriver: '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json' }));
  assert.deepEqual(stray.candidates, []);
  assert.match(stray.reason!, /no NVIDIA Vulkan driver \(nvidia_icd\.json\) where the Vulkan loader looks/);
  assert.equal(stray.fix, "point the loader at the driver's manifest: export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json");
  // Only a software driver: auto and gpu leave it, webgpu takes it.
  const soft = facts({ vulkanDrivers: [LAVAPIPE] });
  assert.deepEqual(planGpu(auto, soft).candidates, []);
  assert.match(planGpu(auto, soft).reason!, /^no GPU found \(\/dev\/nvidia\*, \/dev\/dri\/renderD\*\); the only WebGPU adapter is .*software.*slower than the CPU provider$/);
  assert.deepEqual(planGpu({ kind: 'gpu' }, soft).candidates, []);
  assert.deepEqual(providers(planGpu({ kind: 'webgpu' }, soft).candidates), ['webgpu:llvmpipe (lavapipe, software Vulkan) (software)']);
  assert.deepEqual(providers(planGpu(auto, soft, { allowSoftware: true }).candidates), ['webgpu:llvmpipe (lavapipe, software Vulkan) (software)']);
  // CUDA: first when its provider is installed and an NVIDIA GPU is there; else its install command.
  const withCuda = facts({ devices: [H200, { ...H200, node: '/dev/nvidia1' }], vulkanDrivers: [NVIDIA_ICD], providers: [...facts({}).providers.slice(0, 2), { name: 'cuda', bundled: false, installed: true }] });
  assert.deepEqual(providers(planGpu(auto, withCuda).candidates), ['cuda:NVIDIA H200', 'webgpu:NVIDIA H200 (2 GPUs; Dawn takes one of them)']);
  assert.deepEqual(providers(planGpu({ kind: 'webgpu' }, withCuda).candidates), ['webgpu:NVIDIA H200 (2 GPUs; Dawn takes one of them)']);
  assert.equal(planGpu({ kind: 'cuda', index: 1 }, withCuda).candidates[0]!.deviceId, 1);
  assert.match(planGpu({ kind: 'cuda', index: 2 }, withCuda).reason!, /no CUDA GPU 2 \(2 found\)/);
  const cuda = planGpu({ kind: 'cuda' }, facts({ devices: [H200] }));
  assert.deepEqual(cuda.candidates, []);
  assert.equal(cuda.fix, CUDA_FIX);
  assert.match(CUDA_FIX, /ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --ignore-scripts=false/);
  // Other systems: Dawn's own backend (Metal, D3D12), nothing to check beforehand.
  assert.deepEqual(providers(planGpu(auto, facts({ platform: 'darwin', vulkanLoader: null })).candidates), ["webgpu:the system's GPU (Metal)"]);
});

test('Vulkan drivers are read where the loader reads them: VK_DRIVER_FILES replaces the search, VK_ADD_DRIVER_FILES adds', async () => {
  const dir = path.join(work, 'icd.d');
  await fsp.mkdir(dir, { recursive: true });
  const write = (name: string, library: string) => fsp.writeFile(path.join(dir, name), JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: library, api_version: '1.3.0' } }));
  await write('nvidia_icd.json', 'libGLX_nvidia.so.0');
  await write('lvp_icd.x86_64.json', '/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so');
  await fsp.writeFile(path.join(dir, 'broken.json'), '{');
  const kinds = (env: NodeJS.ProcessEnv) => vulkanDrivers(env).map((d) => `${path.basename(d.manifest)}:${d.kind}`);
  assert.deepEqual(kinds({ VK_DRIVER_FILES: dir }), ['lvp_icd.x86_64.json:software', 'nvidia_icd.json:nvidia']);
  assert.deepEqual(kinds({ VK_ICD_FILENAMES: path.join(dir, 'nvidia_icd.json') }), ['nvidia_icd.json:nvidia']);
  assert.deepEqual(kinds({ VK_DRIVER_FILES: '/nonexistent/icd.json' }), []);
  assert.deepEqual(kinds({ VK_DRIVER_FILES: '/nonexistent/icd.json', VK_ADD_DRIVER_FILES: path.join(dir, 'nvidia_icd.json') }), ['nvidia_icd.json:nvidia']);
});

test('auto without a usable GPU takes the CPU, says why on stderr, and the manifest records device, provider, adapter and precision', async () => {
  const out = path.join(work, 'auto-cpu');
  const r = await runCli(['extract', images, '-o', out, ...tiny(), '--json'], { env: NO_VULKAN_DRIVER });
  assert.equal(r.code, 0, r.stderr);
  const facts = gpuFacts({ ...process.env, ...NO_VULKAN_DRIVER });
  const reason = planGpu({ kind: 'auto' }, facts).reason!;
  assert.match(r.stderr, new RegExp(`^device: CPU \\(.+ cores\\)\\), fp32; auto: ${reason.replace(/[()/*.]/g, '\\$&')}$`, 'm'));
  const { engine, settings } = await manifestOf(out);
  assert.equal(engine.device, 'cpu');
  assert.equal(engine.provider, 'cpu');
  assert.match(engine.adapter!, /\(\d+ cores\)$/);
  assert.equal(engine.precision, 'fp32');
  assert.equal(engine.deviceReason, `auto: ${reason}`);
  assert.equal(settings.precision, 'fp32');
});

test('an explicit GPU request that cannot be met is one line naming the fix, exit 2, and nothing written', async () => {
  const webgpuOut = path.join(work, 'no-webgpu');
  const r = await runCli(['extract', images, '-o', webgpuOut, ...tiny(), '--device', 'webgpu'], { env: NO_VULKAN_DRIVER });
  assertOneLineError(r, /^cnnfeat: --device webgpu: webgpu did not start \(Failed to get a WebGPU adapter[^)]*\); .*(GPU|Vulkan)/);
  await assert.rejects(fsp.stat(path.join(webgpuOut, 'features.npy')), 'no rows written');
  if (gpuFacts().providers.find((p) => p.name === 'cuda')?.installed) return; // the CUDA provider is installed here
  const cuda = await runCli(['extract', images, '-o', path.join(work, 'no-cuda'), ...tiny(), '--device', 'cuda']);
  assertOneLineError(cuda, /--device cuda: onnxruntime-node's CUDA provider is not installed; .*ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --ignore-scripts=false \(it needs CUDA 12 and cuDNN 9\)$/);
  assertOneLineError(await runCli(['run', images, '-o', path.join(work, 'run-cuda'), ...tiny(), '--device', 'cuda:1']), /--device cuda:1: .*ONNXRUNTIME_NODE_INSTALL=cuda12/);
  assertOneLineError(await runCli(['extract', images, '-o', path.join(work, 'bad'), ...tiny(), '--device', 'webgpu:1']), /--device webgpu:1: the WebGPU provider takes no adapter index/);
});

test('predict takes --device too: a GPU request it cannot meet is the same one-line error', async () => {
  const feats = path.join(work, 'predict-feats');
  assert.equal((await runCli(['extract', images, '-o', feats, ...tiny(), '--quiet', '--device', 'cpu'])).code, 0);
  const clf = path.join(work, 'predict-clf.json');
  assert.equal((await runCli(['train', feats, '-o', clf, '--classifier', 'logistic', '--quiet'])).code, 0);
  const image = path.join(images, 'red', (await fsp.readdir(path.join(images, 'red')))[0]!);
  assertOneLineError(await runCli(['predict', clf, image, '--device', 'webgpu'], { env: NO_VULKAN_DRIVER }), /--device webgpu: webgpu did not start \(Failed to get a WebGPU adapter/);
  const ok = await runCli(['predict', clf, image, '--device', 'cpu', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /^device: CPU .*asked for \(--device cpu\)$/m);
});

test('cnnfeat info lists the providers, GPUs and Vulkan drivers, probes WebGPU and says what auto takes', async () => {
  const r = await runCli(['info', '--json'], { env: NO_VULKAN_DRIVER });
  assert.equal(r.code, 0, r.stderr);
  const { gpu } = JSON.parse(r.stdout) as { gpu: { providers: { name: string }[]; webgpu: WebGpuProbe; auto: string; vulkan: { drivers: unknown[] } | null } };
  assert.deepEqual(gpu.providers.map((p) => p.name).slice(0, 2), ['cpu', 'webgpu']);
  assert.equal(gpu.webgpu.ok, false);
  assert.match(gpu.webgpu.error!, /Failed to get a WebGPU adapter/);
  assert.match(gpu.auto, /^the CPU: /);
  if (process.platform === 'linux') assert.deepEqual(gpu.vulkan?.drivers, []);
  const text = await runCli(['info']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^providers cpu, webgpu, /m);
  assert.match(text.stdout, /^webgpu    (starts on .+ \(\d+ ms\)|does not start: .+)/m);
  assert.match(text.stdout, /^device    auto takes /m);
  assert.equal(text.stderr, '', 'what the drivers print while probing stays off the terminal');
});

// --- The WebGPU provider itself, on whatever adapter this machine has (lavapipe on the dev machines).

/** fp32 GPU rows equal CPU rows (issue 19, item 2). */
function assertSameRows(gpu: Float32Array, cpu: Float32Array, dim: number, what: string): void {
  const cos = cosineRows(gpu, cpu, dim);
  assert.ok(cos >= 0.9999, `${what}: smallest cosine ${cos}`);
  const rel = relativeError(gpu, cpu);
  assert.ok(rel <= 1e-3, `${what}: max relative difference ${rel}`);
}

test('webgpu: extract gives the CPU rows (cosine ≥ 0.9999, max rel. diff ≤ 1e-3) and records the provider and adapter', { skip: noAdapter() }, async () => {
  const out = (name: string) => path.join(work, name);
  const cpu = await runCli(['extract', images, '-o', out('wg-cpu'), ...tiny(), '--device', 'cpu', '--quiet']);
  assert.equal(cpu.code, 0, cpu.stderr);
  const gpu = await runCli(['extract', images, '-o', out('wg-gpu'), ...tiny(), '--device', 'webgpu']);
  assert.equal(gpu.code, 0, gpu.stderr);
  const [a, b] = [await readFeatureSet(out('wg-gpu')), await readFeatureSet(out('wg-cpu'))];
  assertSameRows(a.X, b.X, a.dim, 'tiny model');
  const { engine } = await manifestOf(out('wg-gpu'));
  assert.deepEqual([engine.device, engine.provider, engine.precision, engine.deviceReason], ['gpu', 'webgpu', 'fp32', 'asked for (--device webgpu)']);
  assert.equal(engine.adapter, webgpu.adapter);
  assert.match(gpu.stderr, new RegExp(`^device: GPU, webgpu on ${webgpu.adapter!.replace(/[()/]/g, '\\$&')}, fp32`, 'm'));
  if (webgpu.software) assert.match(gpu.stderr, /a CPU rasteriser: slower than the CPU provider/);
  // A feature folder made on one device resumes/updates on the other: fp32 rows of any device mix.
  const again = await runCli(['extract', images, '-o', out('wg-gpu'), ...tiny(), '--device', 'cpu', '--resume', '--quiet']);
  assert.equal(again.code, 0, again.stderr);
});

test('webgpu: the real MobileNet gives the CPU rows', { skip: noAdapter() || sharedData('models/mobilenet_v1_0.75_224/model.json').skip }, async () => {
  const file = sharedData('models/mobilenet_v1_0.75_224/model.json').path;
  const src: EngineSource = { modelFile: file, weightsDigest: await weightsDigest(file) };
  const req: EngineRequest = { engine: 'onnx', layers: ['global_average_pooling2d_1'], preprocess: 'tf', pixels: true };
  const cpu = await loadEngine(src, { ...req, device: { kind: 'cpu' } });
  const gpu = await loadEngine(src, { ...req, device: { kind: 'webgpu' } });
  try {
    const batch = photoBatch(2, 224, 224);
    assertSameRows(await gpu.run(batch.slice(), 2), await cpu.run(batch.slice(), 2), cpu.dim, 'MobileNet v1');
  } finally {
    await Promise.all([cpu.dispose(), gpu.dispose()]);
  }
});

test('auto times a GPU adapter against the CPU provider and keeps the faster, saying both times', { skip: noAdapter() }, async () => {
  const src: EngineSource = { modelFile: model, weightsDigest: await weightsDigest(model) };
  const { logger, infos } = recordingLogger();
  // The software adapter is left out of auto's choice unless a test lets it in: then it is timed like a GPU.
  const engine = await loadEngine(src, { engine: 'onnx', layers: ['features'], device: { kind: 'auto' }, allowSoftwareAdapter: true, logger });
  try {
    const d = engine.describe();
    const m = /(\d+(?:\.\d+)?) ms\/img on webgpu \((.+)\) vs (\d+(?:\.\d+)?) ms\/img on the CPU provider/.exec(d.deviceReason!);
    assert.ok(m, d.deviceReason);
    const [gpuMs, cpuMs] = [Number(m[1]), Number(m[3])];
    assert.equal(d.device, gpuMs < cpuMs ? 'gpu' : 'cpu', d.deviceReason);
    assert.match(d.deviceReason!, gpuMs < cpuMs ? /^auto: the GPU ran faster/ : /^auto: the GPU was not faster/);
    assert.ok(infos.some((line) => line.startsWith('device: ') && line.endsWith(d.deviceReason!)), infos.join('\n'));
  } finally {
    await engine.dispose();
  }
});
