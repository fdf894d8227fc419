// Preloaded with `node --import`: reports the process's peak RSS (all threads) on exit.
process.on('exit', () => {
  process.stderr.write(`\ncnnfeat-bench-peak-rss-kb=${process.resourceUsage().maxRSS}\n`);
});
