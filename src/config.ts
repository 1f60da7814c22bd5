/**
 * The one place environment variables are read. Everything is validated with zod at start-up; an invalid value stops
 * the process with a message naming every offending variable. The result is a typed, frozen `Config`.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import proxyAddr from '@fastify/proxy-addr';
import { isHost } from './shared/validation.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

/**
 * A whole number in decimal digits, within [min, max]. Not z.coerce.number(): Number() reads '' and '  ' as 0 and
 * accepts '0x1f', '1e3' and '4000.0', so a blank or mistyped value became a silent 0 (PORT: a random port;
 * EVENTS_RETENTION_DAYS: keep forever).
 */
const intIn = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be from ${min} to ${max}`).max(max, `must be from ${min} to ${max}`));

/**
 * TRUST_PROXY: a boolean, or the proxies to trust as a comma-separated list of addresses, CIDR ranges and proxy-addr's
 * names (`loopback`, `linklocal`, `uniquelocal`). Checked with the function that will evaluate it.
 */
const trustProxy = z
  .string()
  .trim()
  .transform((v): boolean | string[] => {
    const b = v.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(b)) return true;
    if (['false', '0', 'no', 'off'].includes(b)) return false;
    return v.split(',').map((x) => x.trim()).filter(Boolean);
  })
  .refine((v) => {
    if (typeof v === 'boolean') return true;
    try {
      proxyAddr.compile(v);
      return v.length > 0;
    } catch {
      return false;
    }
  }, 'must be true/false or a comma-separated list of IP addresses, CIDR ranges, loopback, linklocal or uniquelocal');

/** Webhook retry delays after attempts 1, 2, …: 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h (≈ 22.7 h in all). */
const DEFAULT_WEBHOOK_RETRY_DELAYS = [30, 120, 600, 1800, 3600, 10_800, 21_600, 43_200];

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: intIn(0, 65535).default(4000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    // Parsed as node-postgres will: a malformed URL (a port out of range, an unclosed [) failed later with a stack trace.
    .refine((u) => URL.canParse(u), 'must be a valid URL: postgres://user:password@host:port/database, special characters in the password percent-encoded')
    .optional(),
  DATABASE_POOL_MAX: intIn(1, 200).default(10),
  DATABASE_WAIT_MS: intIn(0, 3_600_000).default(60_000),
  API_STATEMENT_TIMEOUT_MS: intIn(0, 3_600_000).default(15_000),
  MIGRATE_ON_START: bool.default(true),
  INCOMING_SECRET_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$|^[A-Za-z0-9+/]{43}=$/, 'must be 32 bytes as 64 hex chars or base64')
    .optional(),
  INCOMING_API_KEY: z.string().min(8, 'must be at least 8 characters').max(128).optional(),
  INCOMING_API_SECRET: z.string().min(16, 'must be at least 16 characters').max(256).optional(),
  RATE_LIMIT_PER_MINUTE: intIn(1, 1_000_000).default(60),
  RATE_LIMIT_PER_HOUR: intIn(1, 10_000_000).default(1000),
  AUTH_FAILURES_PER_IP: intIn(0, 1_000_000).default(20),
  AUTH_FAILURES_PER_KEY: intIn(0, 1_000_000).default(100),
  AUTH_FAILURE_WINDOW_SECONDS: intIn(60, 3600).default(600),
  TRUST_PROXY: trustProxy.optional(),
  BODY_LIMIT_BYTES: intIn(1024, 100 * 1024 * 1024).default(1024 * 1024),
  HTTP_REQUEST_TIMEOUT_MS: intIn(1000, 3_600_000).default(60_000),
  GRAPHQL_MAX_DEPTH: intIn(2, 100).default(12),
  GRAPHQL_MAX_COST: intIn(100, 1_000_000).default(5000),
  GRAPHQL_INTROSPECTION: bool.optional(),
  WS_MAX_PAYLOAD_BYTES: intIn(1024, 16 * 1024 * 1024).default(1024 * 1024),
  WS_MAX_BUFFERED_BYTES: intIn(64 * 1024, 1024 * 1024 * 1024).default(4 * 1024 * 1024),
  WS_MAX_CONNECTIONS_PER_KEY: intIn(1, 1_000_000).default(5000),
  WS_MAX_UNAUTHENTICATED_PER_ADDRESS: intIn(1, 1_000_000).default(50),
  WS_CONNECTION_INIT_TIMEOUT_MS: intIn(500, 60_000).default(3000),
  IMAP_CONNECT_TIMEOUT_MS: intIn(500, 120_000).default(10_000),
  IMAP_GREETING_TIMEOUT_MS: intIn(500, 120_000).default(10_000),
  IMAP_SOCKET_TIMEOUT_MS: intIn(1000, 3_600_000).default(300_000),
  IMAP_COMMAND_TIMEOUT_MS: intIn(1000, 3_600_000).default(120_000),
  IMAP_TLS_REJECT_UNAUTHORIZED: bool.default(true),
  SHUTDOWN_TIMEOUT_MS: intIn(100, 600_000).default(15_000),
  SYNC_ENABLED: bool.default(true),
  SYNC_POLL_INTERVAL_MS: intIn(1000, 86_400_000).default(60_000),
  SYNC_FLAG_RESCAN_MS: intIn(1000, 86_400_000).default(300_000),
  SYNC_WATCHDOG_TIMEOUT_MS: intIn(500, 600_000).default(30_000),
  SYNC_IDLE_RESTART_MS: intIn(10_000, 1_740_000).default(300_000),
  SYNC_LEASE_TTL_MS: intIn(500, 600_000).default(20_000),
  SYNC_TICK_MS: intIn(200, 600_000).default(5000),
  SYNC_BACKOFF_BASE_MS: intIn(100, 600_000).default(1000),
  SYNC_BACKOFF_MAX_MS: intIn(1000, 3_600_000).default(300_000),
  MAX_MESSAGE_BYTES: intIn(1024, 2_000_000_000).default(50 * 1024 * 1024),
  PARSER_WORKERS: intIn(1, 64).optional(),
  SYNC_INFLIGHT_MB: intIn(8, 4096).default(48),
  RAW_INLINE_MAX_BYTES: intIn(0, 16 * 1024 * 1024).default(256 * 1024),
  BLOB_SWEEP_INTERVAL_MS: intIn(60_000, 86_400_000 * 7).default(3_600_000),
  SYNC_MOVE_WINDOW_MS: intIn(0, 86_400_000 * 90).default(86_400_000 * 7),
  WEBHOOK_ALLOWED_HOSTS: z
    .string()
    .transform((s) => s.split(',').map((h) => h.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1')).filter(Boolean))
    .refine((hosts) => hosts.every(isHost), 'must be a comma-separated list of host names or IP addresses')
    .optional(),
  WEBHOOK_TIMEOUT_MS: intIn(500, 120_000).default(10_000),
  WEBHOOK_MAX_CONSECUTIVE_FAILURES: intIn(1, 10_000).default(20),
  WEBHOOK_RETRY_DELAYS: z
    .string()
    .regex(/^\s*\d{1,6}(\s*,\s*\d{1,6}){0,29}\s*$/, 'must be 1–30 comma-separated delays in seconds')
    .transform((s) => s.split(',').map((d) => Math.max(1, Number(d.trim()))))
    .default(DEFAULT_WEBHOOK_RETRY_DELAYS),
  WEBHOOK_CONCURRENCY: intIn(1, 200).default(10),
  WEBHOOK_CONCURRENCY_PER_WEBHOOK: intIn(1, 200).optional(),
  WEBHOOK_POLL_INTERVAL_MS: intIn(100, 3_600_000).default(5000),
  WEBHOOK_MAX_PER_KEY: intIn(1, 100_000).default(100),
  EVENTS_RETENTION_DAYS: intIn(0, 36_500).default(30),
  ATTACHMENT_URL_TTL_SECONDS: intIn(60, 7 * 86_400).default(3600),
});

type Env = z.infer<typeof EnvSchema>;

export interface Config {
  readonly env: Env['NODE_ENV'];
  readonly host: string;
  readonly port: number;
  readonly logLevel: Env['LOG_LEVEL'];
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly databasePoolMax: number;
  /** How long start-up waits for an unreachable DATABASE_URL before giving up. */
  readonly databaseWaitMs: number;
  /** Statement timeout of the API's reads (GraphQL query operations, REST GETs); 0: none. */
  readonly apiStatementTimeoutMs: number;
  readonly migrateOnStart: boolean;
  readonly secretKey: string | undefined;
  readonly bootstrapKey: { readonly key: string; readonly secret: string } | undefined;
  readonly rateLimit: { readonly perMinute: number; readonly perHour: number };
  /** Failed authentications allowed per client address and per API key in each window (0: no limit). */
  readonly authFailures: { readonly perIp: number; readonly perKey: number; readonly windowMs: number };
  /** Which peers may set X-Forwarded-For (Fastify's trustProxy): false = none, the socket's peer is the client. */
  readonly trustProxy: boolean | readonly string[];
  readonly bodyLimitBytes: number;
  /** Time a client has to send a whole HTTP request (headers and body); the handling is not counted. */
  readonly httpRequestTimeoutMs: number;
  readonly graphql: { readonly maxDepth: number; readonly maxCost: number; readonly introspection: boolean };
  readonly wsMaxPayloadBytes: number;
  /** Unsent output queued behind the message being written before a WebSocket is dropped (ws-backpressure.ts). */
  readonly wsMaxBufferedBytes: number;
  /** WebSockets one API key may have open on one instance. */
  readonly wsMaxConnectionsPerKey: number;
  /** WebSockets one client address (IPv6: its /64) may have open before they authenticate, per instance. */
  readonly wsMaxUnauthenticatedPerAddress: number;
  /** How long a WebSocket may stay open without `connection_init`. */
  readonly wsConnectionInitTimeoutMs: number;
  readonly imap: {
    readonly connectTimeoutMs: number;
    readonly greetingTimeoutMs: number;
    readonly socketTimeoutMs: number;
    readonly commandTimeoutMs: number;
    /** The largest literal a server may send (MAX_MESSAGE_BYTES and 1 MiB): imapflow's own limit is 1 GB. */
    readonly maxLiteralBytes: number;
    readonly tlsRejectUnauthorized: boolean;
  };
  readonly shutdownTimeoutMs: number;
  readonly sync: {
    readonly enabled: boolean;
    readonly pollIntervalMs: number;
    /** On a server without CONDSTORE, STATUS cannot show flag changes: each polled folder's flags are compared this often. */
    readonly flagRescanMs: number;
    /** A poll's STATUS unanswered this long: the session is stale (a silently dead socket) and is reconnected. */
    readonly watchdogTimeoutMs: number;
    readonly idleRestartMs: number;
    readonly leaseTtlMs: number;
    readonly tickMs: number;
    readonly backoff: { readonly baseMs: number; readonly maxMs: number };
    readonly maxMessageBytes: number;
    readonly parserWorkers: number;
    /** Raw sources up to this size are stored in PostgreSQL (`raw_sources`), larger ones as blob files; 0: all files. */
    readonly rawInlineMaxBytes: number;
    /** Message-source bytes all syncs may hold in memory at once. */
    readonly inflightBytes: number;
    readonly blobSweepIntervalMs: number;
    /** An email the server expunged and that reappears in another synced folder within this time was moved (0: never). */
    readonly moveWindowMs: number;
  };
  /** Outbox rows are kept this many days (0: forever). */
  readonly eventsRetentionDays: number;
  /** Lifetime of the signed attachment URLs that replace cid: images in sanitised HTML. */
  readonly attachmentUrlTtlSeconds: number;
  readonly webhooks: {
    /** Host names / IPs that skip the private-address check and may use plain http (lower case, no brackets). */
    readonly allowedHosts: readonly string[];
    readonly timeoutMs: number;
    readonly maxConsecutiveFailures: number;
    /** Delay in seconds before attempt n+2 after attempt n+1 failed; its length + 1 is the number of attempts. */
    readonly retryDelaysSeconds: readonly number[];
    readonly concurrency: number;
    /** Attempts of one webhook in flight at once (delivery-slots.ts): a slow receiver cannot take every slot. */
    readonly perWebhookConcurrency: number;
    readonly pollIntervalMs: number;
    /** Webhooks one API key may own: each event is sent to every webhook, so without a bound one key multiplies it. */
    readonly maxPerKey: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Supports `NAME_FILE=/path` for every variable (Docker/Kubernetes secrets): the file's content wins. A value of only
 * whitespace counts as unset, as an empty one does. A file that cannot be read is a problem of its `NAME_FILE`.
 */
function resolveFileVariables(source: NodeJS.ProcessEnv, problems: string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const key of Object.keys(EnvSchema.shape)) {
    const fileVar = source[`${key}_FILE`];
    let raw = source[key];
    if (fileVar) {
      try {
        raw = readFileSync(fileVar, 'utf8').trim();
      } catch (err) {
        problems.push(`${key}_FILE: cannot read ${fileVar} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    }
    out[key] = raw === undefined || raw.trim() === '' ? undefined : raw;
  }
  return out;
}

/** Reads and validates configuration from the given environment (default `process.env`). Throws `ConfigError`. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const parsed = EnvSchema.safeParse(resolveFileVariables(source, problems));
  if (!parsed.success) {
    throw new ConfigError([...problems, ...parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`)]);
  }
  const e = parsed.data;
  if ((e.INCOMING_API_KEY === undefined) !== (e.INCOMING_API_SECRET === undefined)) {
    problems.push('INCOMING_API_KEY / INCOMING_API_SECRET: set both or neither');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    dataDir: path.resolve(e.DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    databaseWaitMs: e.DATABASE_WAIT_MS,
    apiStatementTimeoutMs: e.API_STATEMENT_TIMEOUT_MS,
    migrateOnStart: e.MIGRATE_ON_START,
    secretKey: e.INCOMING_SECRET_KEY,
    bootstrapKey:
      e.INCOMING_API_KEY && e.INCOMING_API_SECRET
        ? Object.freeze({ key: e.INCOMING_API_KEY, secret: e.INCOMING_API_SECRET })
        : undefined,
    rateLimit: Object.freeze({ perMinute: e.RATE_LIMIT_PER_MINUTE, perHour: e.RATE_LIMIT_PER_HOUR }),
    authFailures: Object.freeze({ perIp: e.AUTH_FAILURES_PER_IP, perKey: e.AUTH_FAILURES_PER_KEY, windowMs: e.AUTH_FAILURE_WINDOW_SECONDS * 1000 }),
    trustProxy: typeof e.TRUST_PROXY === 'object' ? Object.freeze(e.TRUST_PROXY) : (e.TRUST_PROXY ?? false),
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    httpRequestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
    graphql: Object.freeze({
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxCost: e.GRAPHQL_MAX_COST,
      introspection: e.GRAPHQL_INTROSPECTION ?? e.NODE_ENV !== 'production',
    }),
    wsMaxPayloadBytes: e.WS_MAX_PAYLOAD_BYTES,
    wsMaxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
    wsMaxConnectionsPerKey: e.WS_MAX_CONNECTIONS_PER_KEY,
    wsMaxUnauthenticatedPerAddress: e.WS_MAX_UNAUTHENTICATED_PER_ADDRESS,
    wsConnectionInitTimeoutMs: e.WS_CONNECTION_INIT_TIMEOUT_MS,
    imap: Object.freeze({
      connectTimeoutMs: e.IMAP_CONNECT_TIMEOUT_MS,
      greetingTimeoutMs: e.IMAP_GREETING_TIMEOUT_MS,
      socketTimeoutMs: e.IMAP_SOCKET_TIMEOUT_MS,
      commandTimeoutMs: e.IMAP_COMMAND_TIMEOUT_MS,
      maxLiteralBytes: e.MAX_MESSAGE_BYTES + 1024 * 1024,
      tlsRejectUnauthorized: e.IMAP_TLS_REJECT_UNAUTHORIZED,
    }),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    sync: Object.freeze({
      enabled: e.SYNC_ENABLED,
      pollIntervalMs: e.SYNC_POLL_INTERVAL_MS,
      flagRescanMs: e.SYNC_FLAG_RESCAN_MS,
      watchdogTimeoutMs: e.SYNC_WATCHDOG_TIMEOUT_MS,
      idleRestartMs: e.SYNC_IDLE_RESTART_MS,
      leaseTtlMs: e.SYNC_LEASE_TTL_MS,
      tickMs: e.SYNC_TICK_MS,
      backoff: Object.freeze({ baseMs: e.SYNC_BACKOFF_BASE_MS, maxMs: e.SYNC_BACKOFF_MAX_MS }),
      maxMessageBytes: e.MAX_MESSAGE_BYTES,
      // Parsing is the CPU-bound stage: one worker per core, leaving the main thread for fetching and storing.
      // One core is left to the main thread, PostgreSQL and the IMAP server: on 2 cores a second parser gained no
      // throughput in bench:ingest and cost ~70 MB of peak RSS.
      parserWorkers: e.PARSER_WORKERS ?? Math.max(1, Math.min(8, availableParallelism() - 1)),
      rawInlineMaxBytes: e.RAW_INLINE_MAX_BYTES,
      inflightBytes: e.SYNC_INFLIGHT_MB * 1024 * 1024,
      blobSweepIntervalMs: e.BLOB_SWEEP_INTERVAL_MS,
      moveWindowMs: e.SYNC_MOVE_WINDOW_MS,
    }),
    eventsRetentionDays: e.EVENTS_RETENTION_DAYS,
    attachmentUrlTtlSeconds: e.ATTACHMENT_URL_TTL_SECONDS,
    webhooks: Object.freeze({
      allowedHosts: Object.freeze(e.WEBHOOK_ALLOWED_HOSTS ?? []),
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      maxConsecutiveFailures: e.WEBHOOK_MAX_CONSECUTIVE_FAILURES,
      retryDelaysSeconds: Object.freeze(e.WEBHOOK_RETRY_DELAYS),
      concurrency: e.WEBHOOK_CONCURRENCY,
      perWebhookConcurrency: Math.min(e.WEBHOOK_CONCURRENCY, e.WEBHOOK_CONCURRENCY_PER_WEBHOOK ?? Math.ceil(e.WEBHOOK_CONCURRENCY / 2)),
      pollIntervalMs: e.WEBHOOK_POLL_INTERVAL_MS,
      maxPerKey: e.WEBHOOK_MAX_PER_KEY,
    }),
  });
}
