/**
 * Starts the real server for end-to-end tests: in-process (`startTestServer`, fast) or as a child process running
 * `bin/incoming.js serve` (`spawnServer`, for signals, SIGKILL and several instances).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { freePort } from '../../src/db/embedded.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface Credentials {
  key: string;
  secret: string;
}

export interface TestServer extends Credentials {
  readonly url: string;
  readonly dataDir: string;
  readonly server: RunningServer;
  /** fetch() against the server with the admin credentials unless `auth: false` or other credentials are given. */
  api(pathname: string, init?: ApiInit): Promise<ApiResponse>;
  close(): Promise<void>;
}

export interface ApiInit {
  method?: string;
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
  auth?: Credentials | false;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of any shape, asserted by tests
  text: string;
}

export function newCredentials(): Credentials {
  return { key: `ink_test_${randomBytes(6).toString('hex')}`, secret: `ins_test_${randomBytes(24).toString('hex')}` };
}

/** One HTTP request with real fetch; parses JSON when the response is JSON. */
export async function apiRequest(baseUrl: string, creds: Credentials | false, pathname: string, init: ApiInit = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  const auth = init.auth === undefined ? creds : init.auth;
  if (auth) {
    headers['x-api-key'] = auth.key;
    headers['x-api-secret'] = auth.secret;
  }
  let body = init.body;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  }
  const res = await fetch(`${baseUrl}${pathname}`, { method: init.method ?? 'GET', headers, body });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Starts the server in this process on a random port against `databaseUrl`, with a bootstrap admin key. */
export async function startTestServer(databaseUrl: string, env: Record<string, string> = {}): Promise<TestServer> {
  const creds = newCredentials();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'incoming-e2e-'));
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    INCOMING_API_KEY: creds.key,
    INCOMING_API_SECRET: creds.secret,
    IMAP_CONNECT_TIMEOUT_MS: '5000',
    IMAP_GREETING_TIMEOUT_MS: '5000',
    ...env,
  });
  const server = await startServer(config, pino({ level: config.logLevel }));
  return {
    ...creds,
    url: server.url,
    dataDir,
    server,
    api: (p, init) => apiRequest(server.url, creds, p, init),
    close: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface SpawnedServer {
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Resolves with the exit code (or signal) once the process ended. */
  readonly exited: Promise<number | NodeJS.Signals>;
}

/** Runs `bin/incoming.js serve` as a child process on a free port and waits until /healthz answers. */
export async function spawnServer(env: Record<string, string>, args: string[] = ['serve']): Promise<SpawnedServer> {
  const port = env.PORT ?? String(await freePort());
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/incoming.js'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env, PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let exitCode: number | NodeJS.Signals | undefined;
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.on('exit', (code, sig) => {
      exitCode = code ?? sig ?? -1;
      resolve(exitCode);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`server exited (${exitCode}) before listening:\n${out}`);
    if (Date.now() > deadline) throw new Error(`server did not start within 60 s:\n${out}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child, output: () => out, exited };
}
