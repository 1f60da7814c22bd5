/**
 * `npm run bench:http` — the cost of the foundation on every request: API-key auth (one indexed lookup + constant-time
 * hash check), the PostgreSQL rate-limit upsert, and GraphQL execution behind REST. Measured against the ceiling in
 * the same run: the same server's public /healthz (Fastify + no auth, no database).
 */
import { benchDatabase, benchKey, load, printTable, startBenchServer, type LoadResult } from './support.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const db = await benchDatabase();
const server = await startBenchServer(db.url);
try {
  const { key, secret } = await benchKey(db.url);
  const auth = { 'x-api-key': key, 'x-api-secret': secret };
  const cases = [
    { name: 'GET /healthz (ceiling)', path: '/healthz' },
    { name: 'POST /api/auth/validate', path: '/api/auth/validate', method: 'POST', headers: auth },
    { name: 'GET /api/accounts', path: '/api/accounts', headers: auth },
    { name: 'POST /graphql { viewer }', path: '/graphql', method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ viewer { id name } }' }) },
  ];
  const results: LoadResult[] = [];
  for (const connections of [1, 32]) {
    for (const c of cases) {
      results.push(await load(c.name, { url: `${server.url}${c.path}`, connections, seconds, method: c.method, headers: c.headers, body: c.body }));
    }
  }
  console.log(`\nbench:http — ${seconds}s per case, server and load generator on this machine (loopback)\n`);
  printTable(results, (r) => results.find((x) => x.connections === r.connections && x.name.startsWith('GET /healthz')));
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  await db.drop();
}
