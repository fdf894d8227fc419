// Preloaded with `node --import`: reports the process's peak RSS (all threads) on exit.
// On Linux it reads VmHWM, the high-water mark of this program's own memory: getrusage's maxRSS
// would also count the RSS the parent had when it forked this process (kept across exec).
import { readFileSync } from 'node:fs';

function peakRssKb() {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

process.on('exit', () => {
  process.stderr.write(`\ncnnfeat-bench-peak-rss-kb=${peakRssKb()}\n`);
});
