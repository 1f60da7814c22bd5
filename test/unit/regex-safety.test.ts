/**
 * ReDoS guard: every regex literal and every `new RegExp('literal')` in src/ is checked by recheck (the pure-JS build,
 * or its native agent where the optional platform package installed; never Java, never the network). A 'vulnerable'
 * verdict fails the test naming file:line: mail and API input reach most of these patterns, and one super-linear
 * regex holds the event loop (or a parser worker) for as long as an attacker likes. A RegExp built from anything but a
 * literal cannot be checked and fails too. Rewrite the pattern (or the code) so it is linear; only a pattern that is
 * linear for a reason recheck cannot see goes in ALLOWED, with that reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { check } from 'recheck';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** Patterns recheck calls vulnerable that are linear, keyed by file (relative to src/) and source. */
const ALLOWED: { file: string; source: string; why: string }[] = [
  {
    file: 'modules/emails/html-sanitizer.ts',
    source:
      '^(?![\\s\\S]*(?:[\\\\<>@{}]|\\/\\*|expression|script:|binding|behavior|image-set|image\\(|element\\(|src\\(|url\\((?!\\s*[\'"]?https?:\\/\\/)))',
    why: 'anchored without the m flag, so one attempt, whose `[\\s\\S]*` gives back each character once; recheck\'s fuzzer (timing-based) calls it quadratic only under load. Its attack at 1.3 MB takes 0.1 s',
  },
  {
    file: 'sync/ingest/parse-headers.ts',
    source: '^content-type:[^\\r\\n]*(?:\\r?\\n[ \\t][^\\r\\n]*)*?charset\\s*=\\s*"?([\\w.:+-]{1,40})',
    why: "multiline `^` holds only at line starts, and a folded line starts with a blank, so each line is read by at most one attempt; recheck's fuzzer counts the `^` tests at every position (the same pattern without the m flag is proved safe). 64 KiB input.",
  },
  {
    file: 'sync/ingest/text-part-hook.ts',
    source: '<meta\\b[^>]{0,200}?charset\\s*=\\s*(?:["\']\\s*)?([a-z0-9_.:-]{1,40})',
    why: 'the lazy part is bounded: at most 200 characters are tried after each `<meta`, so the work is linear in the input (1 MB of the attack recheck reports takes milliseconds)',
  },
];

interface Found {
  file: string;
  line: number;
  source: string | null;
  flags: string;
  text: string;
}

/** Regex literals and RegExp(...) calls of every .ts file under src/, found by the TypeScript parser. */
function findRegexes(): Found[] {
  const found: Found[] = [];
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const sf = ts.createSourceFile(file, readFileSync(path.join(SRC, file), 'utf8'), ts.ScriptTarget.Latest, true);
    const at = (node: ts.Node) => ({ file, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, text: node.getText(sf) });
    const visit = (node: ts.Node): void => {
      if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) {
        const text = (node as ts.RegularExpressionLiteral).text;
        const end = text.lastIndexOf('/');
        found.push({ ...at(node), source: text.slice(1, end), flags: text.slice(end + 1) });
      } else if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && ts.isIdentifier(node.expression) && node.expression.text === 'RegExp') {
        const [pattern, flags] = node.arguments ?? [];
        const literal = pattern !== undefined && ts.isStringLiteralLike(pattern) && (flags === undefined || ts.isStringLiteralLike(flags));
        found.push({ ...at(node), source: literal ? pattern.text : null, flags: literal && flags ? (flags as ts.StringLiteralLike).text : '' });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found;
}

/** The native agent when its platform package is installed (fast), else recheck's pure-JS worker; Java is never tried. */
function backend(): 'native' | 'worker' {
  const os = { linux: 'linux', darwin: 'macos', win32: 'windows' }[process.platform as string];
  try {
    createRequire(import.meta.url).resolve(`recheck-${os}-${process.arch}/package.json`);
    return 'native';
  } catch {
    return 'worker';
  }
}

describe('regex safety (ReDoS)', () => {
  it('no regex in src/ is vulnerable to super-linear backtracking', async () => {
    process.env.RECHECK_BACKEND = backend();
    const regexes = findRegexes();
    expect(regexes.length).toBeGreaterThan(50); // the extraction works
    const allowed = (r: Found) => ALLOWED.some((a) => a.file === r.file && a.source === r.source);
    const problems: string[] = [];
    const unknown: string[] = [];
    // One at a time: the fuzzer's limits are partly timings, which parallel checks would skew.
    for (const r of regexes) {
      if (r.source === null) {
        problems.push(`${r.file}:${r.line}: RegExp from a non-literal cannot be checked: ${r.text}`);
        continue;
      }
      if (allowed(r)) continue;
      const d = await check(r.source, r.flags, { timeout: 20_000 });
      if (d.status === 'vulnerable') {
        problems.push(`${r.file}:${r.line}: /${r.source}/${r.flags} is vulnerable (${d.complexity.summary}), attack: ${d.attack.pattern}`);
      } else if (d.status === 'unknown') {
        unknown.push(`${r.file}:${r.line}: /${r.source}/${r.flags}: ${d.error.kind}`);
      }
    }
    if (unknown.length > 0) console.warn(`recheck could not decide (not a failure):\n${unknown.join('\n')}`);
    expect(problems).toEqual([]);
    // An entry whose pattern is gone would let a future pattern of the same text through unexamined.
    for (const a of ALLOWED) expect(regexes.some((r) => r.file === a.file && r.source === a.source), `stale ALLOWED entry ${a.file}`).toBe(true);
  }, 120_000);
});
