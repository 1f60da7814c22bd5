/**
 * `npm run bench:sanitize` — sanitising `body_html`, which the API does per request (`GET /api/emails/{id}`), for a
 * large newsletter: BENCH_ROWS styled table rows (default 3,500: ~600 KB), each with a link and a `cid:` image. The
 * ceiling, measured in the same run: sanitize-html with everything allowed (the same parse and serialisation, none of
 * our policy: style filtering, URL checks, cid rewriting). Moved here from a unit test that asserted a time.
 */
import os from 'node:os';
import sanitizeHtml from 'sanitize-html';
import { sanitizeEmailHtml } from '../src/modules/emails/html-sanitizer.js';

const rows = Number(process.env.BENCH_ROWS ?? 3500);
const runs = Number(process.env.BENCH_RUNS ?? 30);
const row = '<tr><td style="padding:4px;color:#333;font-family:Arial,sans-serif">row <a href="https://x.example/r?id=1">link</a> <img src="cid:logo@x" width="10" height="10" alt=""></td></tr>';
const html = `<!DOCTYPE html><html><head><title>Weekly</title><style>@media (max-width:600px){td{padding:0}}</style></head><body><center><table width="600">${row.repeat(rows)}</table></center></body></html>`;

function measure(name: string, fn: () => string): { name: string; p50: number; p95: number; out: number } {
  for (let i = 0; i < 3; i++) fn(); // warm-up (JIT, postcss, regexes)
  const times: number[] = [];
  let out = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    out = fn().length;
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const at = (p: number) => times[Math.min(times.length - 1, Math.floor(times.length * p))]!;
  return { name, p50: at(0.5), p95: at(0.95), out };
}

const ceiling = measure('(1) sanitize-html, everything allowed (ceiling)', () => sanitizeHtml(html, { allowedTags: false, allowedAttributes: false, allowVulnerableTags: true }));
const ours = measure('(2) sanitizeEmailHtml (our policy)', () => sanitizeEmailHtml(html, { cidUrl: () => '/api/attachments/7/download' }));
console.log(`bench:sanitize — ${(html.length / 1024).toFixed(0)} KB of HTML, ${rows} rows, ${runs} runs, ${os.cpus().length} cores\n`);
console.log('| variant | p50 ms | p95 ms | output KB |\n|---|---:|---:|---:|');
for (const r of [ceiling, ours]) console.log(`| ${r.name} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${(r.out / 1024).toFixed(0)} |`);
console.log(`\nour policy: ${(ours.p50 / ceiling.p50).toFixed(2)}× the ceiling at p50`);
