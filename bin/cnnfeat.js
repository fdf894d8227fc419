#!/usr/bin/env node
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('cnnfeat: dist/cli.js: cnnfeat is not built; run `npm run build` in its folder\n');
  process.exit(2);
}
const { main } = await import(cli.href);
main(process.argv).then((code) => {
  process.exitCode = code;
});
