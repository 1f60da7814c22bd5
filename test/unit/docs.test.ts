/**
 * Documentation drift: every environment variable of src/config.ts is documented in README.md (configuration table)
 * and listed in .env.example; every implemented REST route appears in README.md; the newcomer commands are there.
 * Reads source text only (no imports of src/), so it stays a pure unit test.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** The keys of `const EnvSchema = z.object({ ... });` in src/config.ts. */
function envVariables(): string[] {
  const source = read('src/config.ts');
  const block = /const EnvSchema = z\.object\(\{\n([\s\S]*?)\n\}\);/.exec(source)?.[1];
  if (!block) throw new Error('EnvSchema = z.object({ ... }) not found in src/config.ts');
  return [...block.matchAll(/^\s{2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!);
}

/** `METHOD /api/path` of every route in src/rest/routes/*.ts, with `:id` written as `{id}` (the README spelling). */
function restRoutes(): string[] {
  const index = read('src/rest/routes/index.ts');
  const files = [...index.matchAll(/from '\.\/([\w-]+)\.js'/g)].map((m) => `src/rest/routes/${m[1]}.ts`);
  return files.flatMap((f) =>
    [...read(f).matchAll(/method: '(\w+)',\s*path: '([^']+)'/g)].map((m) => `${m[1]} ${m[2]!.replace(/:(\w+)/g, '{$1}')}`),
  );
}

describe('documentation', () => {
  const readme = read('README.md');
  const envExample = read('.env.example');
  const variables = envVariables();

  it('finds the variables of src/config.ts', () => {
    expect(variables.length).toBeGreaterThan(10);
    expect(variables).toContain('DATABASE_URL');
    expect(new Set(variables).size).toBe(variables.length);
  });

  it.each(variables)('README.md documents %s in the configuration table', (name) => {
    expect(readme).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
  });

  it.each(variables)('.env.example lists %s', (name) => {
    expect(envExample).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
  });

  it('README.md documents the NAME_FILE convention', () => {
    expect(readme).toContain('NAME_FILE');
  });

  it('README.md lists every implemented REST route', () => {
    const routes = restRoutes();
    expect(routes).toContain('POST /api/auth/validate');
    for (const r of routes) expect(readme, r).toContain(`\`${r}\``);
  });

  it('README.md starts a newcomer with npm install && npm start, then npm test', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
    expect(readme.indexOf('npm install && npm start')).toBeLessThan(readme.indexOf('## Quick tour'));
  });

  it('.ci/run runs npm test', () => {
    expect(read('.ci/run')).toMatch(/^npm test$/m);
  });
});
