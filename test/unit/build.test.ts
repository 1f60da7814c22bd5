import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript launcher code, without type declarations
import { ensureBuild } from '../../bin/build.js';

const REPO = path.resolve(import.meta.dirname, '../..');

/** A checkout of two sources, under the repository so that esbuild and the project's packages resolve from it. */
function checkout(): string {
  mkdirSync(path.join(REPO, 'data'), { recursive: true });
  const root = mkdtempSync(path.join(REPO, 'data', 'build-test-'));
  copyFileSync(path.join(REPO, 'tsconfig.json'), path.join(root, 'tsconfig.json'));
  mkdirSync(path.join(root, 'src', 'cli'), { recursive: true });
  mkdirSync(path.join(root, 'migrations'));
  writeSource(root, 'src/cli/index.ts', 'one');
  writeFileSync(path.join(root, 'migrations', 'Migration1.ts'), 'export const up: string = "create table t ()";\n');
  return root;
}

/** A legacy decorator (experimentalDecorators) and type annotations: what the compiler must handle as tsx does. */
function writeSource(root: string, file: string, value: string): void {
  writeFileSync(
    path.join(root, file),
    `const seen: string[] = [];
function mark(target: object, key: string): void { seen.push(key); }
class Probe { @mark value(): string { return ${JSON.stringify(value)}; } }
export const result = { value: new Probe().value(), decorated: seen };
`,
  );
}

const builds = (root: string) => readdirSync(path.join(root, '.build')).sort();

describe('bin/build.js: the compiled tree the server runs', () => {
  let root: string;
  beforeAll(() => {
    root = checkout();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('compiles every source with legacy decorators, same layout, and reuses an unchanged build', async () => {
    const dir: string = await ensureBuild(root);
    const mod = await import(pathToFileURL(path.join(dir, 'src/cli/index.js')).href);
    expect(mod.result).toEqual({ value: 'one', decorated: ['value'] });
    expect(statSync(path.join(dir, 'migrations/Migration1.js')).isFile()).toBe(true);

    const before = statSync(path.join(dir, 'src/cli/index.js')).mtimeMs;
    expect(await ensureBuild(root)).toBe(dir);
    expect(statSync(path.join(dir, 'src/cli/index.js')).mtimeMs).toBe(before);
    expect(builds(root)).toEqual([path.basename(dir)]);
  });

  it('a changed source gets a build of its own; servers started together share one, without leftovers', async () => {
    const first: string = await ensureBuild(root);
    writeSource(root, 'src/cli/index.ts', 'two');
    const dirs: string[] = await Promise.all([ensureBuild(root), ensureBuild(root), ensureBuild(root)]);
    expect(new Set(dirs).size).toBe(1);
    expect(dirs[0]).not.toBe(first);
    const mod = await import(pathToFileURL(path.join(dirs[0]!, 'src/cli/index.js')).href);
    expect(mod.result.value).toBe('two');
    // The earlier build stays (a server of the older sources may still start a parser worker from it); no tmp-* left.
    expect(builds(root)).toEqual([path.basename(first), path.basename(dirs[0]!)].sort());
  });

  it('keeps the current build and the three before it', async () => {
    for (const v of ['three', 'four', 'five', 'six']) {
      writeSource(root, 'src/cli/index.ts', v);
      await ensureBuild(root);
    }
    expect(builds(root)).toHaveLength(4);
  });
});

describe('bin/incoming.js where no build can be written', () => {
  it('runs the TypeScript sources through tsx, and says so', async () => {
    const root = mkdtempSync(path.join(REPO, 'data', 'build-test-'));
    try {
      for (const f of ['bin', 'src', 'migrations', 'tsconfig.json', 'package.json']) cpSync(path.join(REPO, f), path.join(root, f), { recursive: true });
      writeFileSync(path.join(root, '.build'), 'not a directory'); // as unwritable as a read-only checkout, even for root
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(root, 'bin/incoming.js'), '--help'], { cwd: root });
      expect(stderr).toMatch(/cannot write the compiled sources \(E[A-Z]+ on .*\); running them through tsx/);
      expect(stdout).toContain('incoming keys create');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});
