import { createRequire } from 'node:module';

/** cnnfeat's own version, from package.json. */
export const TOOL_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** The `tool` block stamped into every file cnnfeat writes. */
export const TOOL_STAMP = { name: 'cnnfeat', version: TOOL_VERSION } as const;
