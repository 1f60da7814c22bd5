// Worker-thread bootstrap for ParserPool. Plain JS on purpose: a worker thread does not inherit the TypeScript loader
// that bin/incoming.js (tsx) or vitest installed in the main thread, so this file registers tsx for this thread first
// and only then loads the TypeScript worker body. Works the same under `node bin/incoming.js` and under vitest.
import { register } from 'tsx/esm/api';

register();
await import('./parse-worker.ts');
