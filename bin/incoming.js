#!/usr/bin/env node
// Launcher for the `incoming` CLI: runs src/cli/index.ts, compiled to JavaScript first (see below). `incoming build`
// only compiles (the Docker image does it at build time).
//
// `serve` first re-executes itself in place (same PID, so signals and supervisors are unaffected) with its memory
// settings, unless the operator chose their own heap sizes (either flag, in NODE_OPTIONS or as a node flag) or
// INCOMING_RUNTIME_TUNING=off:
// - the V8 young generation: Node 24 lets each semi-space grow to 64 MiB on a machine with this much RAM — 128 MiB of
//   RSS held by an idle server. INCOMING_SEMI_SPACE_MB (default 16) caps it. Smaller saves memory during a sync but
//   costs API throughput under concurrent load, where the responses in flight outgrow a small young generation and
//   get promoted (bench:api, bench:ingest).
// - the V8 old generation: INCOMING_OLD_SPACE_MB (default 1024) caps it. Not for the cap itself (a sync's heap stays
//   near 100 MB), but because V8 lets the old generation grow to up to 4× what survived the last full GC before the
//   next one when its limit is 2 GiB or more (Node's default here is ~4 GiB), and to ~1.6× at 1024 MiB: the parsed
//   messages promoted during a sync piled up as garbage between full GCs (bench:ingest: peak RSS over 300 MB without
//   the cap, under it with). Both flags are the main thread's: the parser worker's heap is its own
//   (src/sync/ingest/parser-pool.ts clears them before starting it).
// - glibc malloc: at most 2 arenas (MALLOC_ARENA_MAX; otherwise one per thread — main, parser worker, libuv pool —
//   each holding freed memory) and a fixed mmap threshold of 128 KiB (MALLOC_MMAP_THRESHOLD_): by default glibc
//   raises the threshold after the first large free, and from then on every message source or attachment buffer of up
//   to 32 MiB comes from the arenas and stays in RSS after it is freed.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { unsupportedNode } from './node-version.js';

// Checked before build.js is loaded: on an older Node its imports fail with a SyntaxError that does not say why.
const tooOld = unsupportedNode();
if (tooOld) {
  process.stderr.write(`incoming: ${tooOld}\n`);
  process.exit(1);
}
const { ensureBuild } = await import('./build.js');

/** A size in MiB from the environment, or its default (with a warning) when it is not an integer within bounds. */
function mbSetting(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (Number.isInteger(n) && n >= min && n <= max) return n;
  process.stderr.write(`${name} must be an integer from ${min} to ${max} (got "${raw}"); using ${fallback}\n`);
  return fallback;
}

const command = process.argv[2];
const chosen = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('semi-space-size') || a.includes('old-space-size'));
if ((command === undefined || command === 'serve') && !chosen && process.env.INCOMING_RUNTIME_TUNING !== 'off' && process.platform !== 'win32' && typeof process.execve === 'function') {
  const heap = [`--max-semi-space-size=${mbSetting('INCOMING_SEMI_SPACE_MB', 16, 1, 256)}`, `--max-old-space-size=${mbSetting('INCOMING_OLD_SPACE_MB', 1024, 256, 65536)}`];
  process.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, ...heap, ...process.argv.slice(1)],
    { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', ...process.env },
  );
}

// The sources run compiled (bin/build.js: .build/<hash>/, rebuilt when they change). Where no build for these sources
// can be written (a read-only checkout, a full disk), they run through tsx instead (TypeScript + legacy decorators,
// configured by the project's tsconfig.json whatever the working directory), which needs no output directory. A
// compile error is no such case: it stops here, as it would under tsx.
const root = fileURLToPath(new URL('..', import.meta.url));
let built;
try {
  built = await ensureBuild(root);
} catch (err) {
  if (!/^E[A-Z]+$/.test(err?.code ?? '')) throw err; // a system error (EACCES, EROFS, ENOSPC, ENOTDIR…), not esbuild's
  process.stderr.write(`incoming: cannot write the compiled sources (${err.code} on ${err.path ?? '.build'}); running them through tsx\n`);
}
if (command === 'build') {
  if (!built) process.exit(1);
  process.stdout.write(`compiled sources in ${built}\n`);
} else if (built) {
  // Stack traces name the TypeScript file and line, as they did under tsx (the maps are read only when a trace needs them).
  process.setSourceMapsEnabled(true);
  await import(pathToFileURL(path.join(built, 'src/cli/index.js')).href);
} else {
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: path.join(root, 'tsconfig.json') });
  await import('../src/cli/index.ts');
}
