import { createRequire } from 'node:module';

/** cnnfeat's own version, from package.json. */
export const TOOL_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
