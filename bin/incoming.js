#!/usr/bin/env node
// Launcher for the `incoming` CLI: registers tsx (TypeScript + legacy decorators, configured by the project's own
// tsconfig.json whatever the working directory) and runs src/cli/index.ts.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../src/cli/index.ts');
