#!/usr/bin/env node
// Launcher for the `incoming` CLI: registers tsx (TypeScript + legacy decorators) and runs src/cli/index.ts.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/index.ts');
