#!/usr/bin/env node
// The table of issue 19's GPU targets from the gpu bench section's JSON (bench/gpu-check.sh).
import { readFileSync } from 'node:fs';

const { gpu } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
if (gpu.skipped) {
  process.stdout.write(`gpu targets: not measured, no usable GPU (${gpu.skipped})\n`);
  process.exit(0);
}
const peer = (p) => gpu.peer?.[p]?.img_per_s ?? null;
const ips = (x) => x?.imagesPerSecond ?? null;
const rows = [
  ['GPU fp32 rows = CPU rows, cosine', `${arch()}: ${gpu.equality.fp32.minCosine}`, '≥ 0.9999', gpu.equality.fp32.minCosine >= 0.9999],
  ['GPU fp32 rows = CPU rows, max rel. diff', `${arch()}: ${gpu.equality.fp32.maxRelative}`, '≤ 1e-3', gpu.equality.fp32.maxRelative <= 1e-3],
  ...(gpu.realModel
    ? [
        ['GPU fp32 rows = CPU rows, cosine', `${gpu.realModel.model}: ${gpu.realModel.fp32.minCosine}`, '≥ 0.9999', gpu.realModel.fp32.minCosine >= 0.9999],
        ['GPU fp32 rows = CPU rows, max rel. diff', `${gpu.realModel.model}: ${gpu.realModel.fp32.maxRelative}`, '≤ 1e-3', gpu.realModel.fp32.maxRelative <= 1e-3],
        ['GPU fp16 rows vs CPU fp32, cosine', `${gpu.realModel.model}: ${gpu.realModel.fp16.minCosine}`, '≥ 0.999', gpu.realModel.fp16.minCosine >= 0.999],
      ]
    : []),
  ['GPU fp16 rows vs CPU fp32, cosine', `${arch()}: ${gpu.equality.fp16.minCosine}`, '≥ 0.999', gpu.equality.fp16.minCosine >= 0.999],
  ['raw CPU provider fp32', `${ips(gpu.raw.cpu)} img/s`, '(baseline)', null],
  ['raw GPU fp32 / fp16', `${ips(gpu.raw.gpu32)} / ${ips(gpu.raw.gpu16)} img/s`, '(issue: 1,160 / 1,545 on an H200)', null],
  ['extract --device auto fp32', `${ips(gpu.extract.fp32)} img/s (${gpu.extract.fp32.device})`, '≥ 1,000', ips(gpu.extract.fp32) >= 1000],
  ['extract --device auto fp16', `${ips(gpu.extract.fp16)} img/s (${gpu.extract.fp16.device})`, '≥ 1,300', ips(gpu.extract.fp16) >= 1300],
  ['PyTorch GPU peer fp32 / fp16', peer('fp32') === null ? `not run (${gpu.peer?.why})` : `${peer('fp32')} / ${peer('fp16')} img/s`, '(issue: 1,290 / 1,907)', null],
  ...['fp32', 'fp16'].map((p) => [`extract / peer, ${p}`, peer(p) === null ? '-' : (ips(gpu.extract[p]) / peer(p)).toFixed(2), '≥ 0.8', peer(p) === null ? null : ips(gpu.extract[p]) / peer(p) >= 0.8]),
];
function arch() {
  return gpu.model.split('/').pop();
}
const widths = [0, 1, 2].map((k) => Math.max(...rows.map((r) => String(r[k]).length)));
const line = (r) => `| ${r.slice(0, 3).map((c, k) => String(c).padEnd(widths[k])).join(' | ')} | ${r[3] === null ? '' : r[3] ? 'met' : 'NOT met'}`;
process.stdout.write(`\ngpu targets (${gpu.adapter}${gpu.software ? ', SOFTWARE ADAPTER: not GPU figures' : ''}; ${gpu.images} photos)\n${rows.map(line).join('\n')}\n`);
