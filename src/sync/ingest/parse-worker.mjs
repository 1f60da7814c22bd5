// Worker-thread bootstrap: the parser is TypeScript, so register tsx in this thread before loading it. Plain JS on
// purpose — it must run before any TypeScript support exists in the worker (under `node bin/incoming.js` and vitest).
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.json', import.meta.url)) });
await import('./parse-worker.ts');
