// Compiles src/ and migrations/ to plain JavaScript under .build/<hash>/ (one output file per source file, same layout),
// so that the server runs on Node's own module loader instead of tsx. Under tsx, every module of the process went
// through its loader hooks: our TypeScript, but also the dependencies' ESM files that it rewrites (with an inline source
// map each), in the main thread and again in every parser worker. Compiled ahead, a 10,000-message first sync peaked at
// 343 MB instead of 366–400 MB and the idle server at 172 MB instead of 189 MB (bench/RESULTS.md, bench:ingest).
//
// The directory is named by a hash of what goes into it (sources, tsconfig.json, esbuild's version, this file), so a
// changed checkout builds once (~0.4 s) and an unchanged one only hashes its sources (~10 ms). Builds go to a temporary
// directory renamed into place: servers started together in one checkout never see half a build. The image builds at
// `docker build` time (`incoming build`), where the directory is writable.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, globSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const SOURCES = ['src/**/*.ts', 'migrations/*.ts'];
/** Earlier builds kept beside the current one: a server still running an older checkout may spawn a parser worker. */
const KEEP = 3;

function sourceFiles(root) {
  return globSync(SOURCES, { cwd: root }).filter((f) => !f.endsWith('.d.ts')).sort();
}

function buildHash(root, files) {
  const esbuildVersion = createRequire(path.join(root, 'package.json'))('esbuild/package.json').version;
  const h = createHash('sha256').update(`esbuild ${esbuildVersion}\0`).update(readFileSync(new URL(import.meta.url)));
  for (const f of ['tsconfig.json', ...files]) h.update(`\0${f}\0`).update(readFileSync(path.join(root, f)));
  return h.digest('hex').slice(0, 16);
}

function pruneOldBuilds(base, current) {
  const others = readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== current)
    .map((d) => ({ dir: path.join(base, d.name), tmp: d.name.startsWith('tmp-'), mtime: statSync(path.join(base, d.name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  const hour = 3_600_000;
  for (const [i, o] of others.entries()) {
    // A temporary directory of a build still running elsewhere is left to it for an hour.
    if (o.tmp ? Date.now() - o.mtime > hour : i >= KEEP) rmSync(o.dir, { recursive: true, force: true });
  }
}

/** Returns the directory holding the compiled tree (`<dir>/src/cli/index.js`), building it first when needed. */
export async function ensureBuild(root) {
  const files = sourceFiles(root);
  const base = path.join(root, '.build');
  const hash = buildHash(root, files);
  const dir = path.join(base, hash);
  if (existsSync(dir)) {
    // Marks it recent for pruneOldBuilds. Best effort: in the image the build belongs to root, the server's user may
    // only read it (EPERM), and that build is as good as any.
    try {
      const now = new Date();
      utimesSync(dir, now, now);
    } catch {
      // not ours to touch
    }
    return dir;
  }
  const { build } = await import('esbuild');
  const tmp = path.join(base, `tmp-${process.pid}-${randomUUID()}`);
  // Created here rather than by esbuild, whose write errors carry no code: the launcher tells an unwritable
  // directory (EACCES, EROFS…: run through tsx instead) from a compile error.
  mkdirSync(tmp, { recursive: true });
  await build({
    entryPoints: files.map((f) => path.join(root, f)),
    outdir: tmp,
    outbase: root,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    tsconfig: path.join(root, 'tsconfig.json'),
    // For stack traces (bin/incoming.js turns source maps on): they point at the TypeScript line, in src/.
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'error',
  });
  try {
    renameSync(tmp, dir);
  } catch (err) {
    // Another process finished the same build first: the same bytes are already in place.
    rmSync(tmp, { recursive: true, force: true });
    if (!['ENOTEMPTY', 'EEXIST'].includes(err.code)) throw err;
  }
  pruneOldBuilds(base, hash);
  return dir;
}
