/**
 * Starts the whole service in this process: database (embedded or DATABASE_URL) → migrations → services → bootstrap
 * key → HTTP/GraphQL/WebSocket server. `close()` shuts down in reverse: stop accepting, finish in-flight requests,
 * close sessions, close the ORM, stop the embedded database.
 */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger as PinoLogger } from 'pino';
import type { Config } from './config.js';
import { openDatabase } from './db/database.js';
import { explainPendingMigrations, initOrm, migrateUp, pendingMigrations } from './db/orm.js';
import { readinessCheck } from './db/readiness.js';
import { StartupLock, withSessionLock } from './db/locks.js';
import { getSchema } from './graphql/schema.js';
import { buildHttpApp, type HttpApp } from './http/app.js';
import { entities } from './modules/entities.js';
import { createServices } from './modules/services.js';
import { loadSecretKey } from './storage/secret-key.js';
import { BlobStore } from './storage/blob-store.js';
import type { CreatedKey } from './modules/auth/index.js';
import type { SyncTrigger } from './modules/accounts/index.js';
import { EmailStatsService, MailboxStateService } from './modules/emails/index.js';
import { createSyncEngine, type SyncEngine } from './sync/index.js';
import { EventStream, startEventRetention } from './events/index.js';
import { PgPubSub } from './events/pubsub.js';
import { UrlGuard, WebhookSender, type DeliveryQueue } from './modules/webhooks/index.js';
import { createWebhookEngine, type WebhookEngine } from './webhooks/index.js';
import { StartupError } from './shared/errors.js';

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** Set when this start created the first API key (to be shown once). */
  readonly bootstrapKey: CreatedKey | null;
  /** The sync engine (tests look at which accounts this instance owns). */
  readonly engine: SyncEngine;
  /** This process's outbox reader (tests wait for its subscriber count). */
  readonly events: EventStream;
  close(): Promise<void>;
}

/** `signal`: stop starting (a SIGTERM during start-up): what was started is stopped again, and the call rejects. */
export async function startServer(config: Config, log: PinoLogger, signal?: AbortSignal): Promise<RunningServer> {
  const cleanups: [string, () => Promise<void>][] = [];
  /** Slow shutdown steps are logged: a shutdown that hits SHUTDOWN_TIMEOUT_MS then says where the time went. */
  const step = async ([name, fn]: [string, () => Promise<void>]) => {
    const t = Date.now();
    await fn().catch((err: unknown) => log.error({ err, step: name }, 'error during shutdown'));
    if (Date.now() - t > 1000) log.info({ step: name, ms: Date.now() - t }, 'slow shutdown step');
  };
  let closing: Promise<void> | undefined;
  const cleanup = () =>
    (closing ??= (async () => {
      for (const c of [...cleanups].reverse()) await step(c);
    })());
  /** Until the start succeeds: removes the initial key created by this start, whose secret was not shown yet. */
  let discardBootstrapKey: (() => Promise<void>) | undefined;
  /** Migrations left to `incoming migrate` (MIGRATE_ON_START=false). */
  let pending: string[] = [];
  try {
    const db = await openDatabase(config, log, signal);
    cleanups.push(['database', () => db.close()]);
    signal?.throwIfAborted();
    const orm = await initOrm({ url: db.url, entities, poolMax: config.databasePoolMax, logger: log });
    cleanups.push(['orm', () => orm.close()]);
    if (config.migrateOnStart) {
      const applied = await migrateUp(orm);
      if (applied.length > 0) log.info({ applied }, 'migrations applied');
    } else {
      pending = await pendingMigrations(orm);
      if (pending.length > 0) log.warn({ pending }, 'pending migrations (MIGRATE_ON_START=false): run `incoming migrate`; /readyz says 503 until then');
    }
    signal?.throwIfAborted();
    const secretKey = await loadSecretKey(config.secretKey, config.dataDir);
    // The sync engine needs the accounts service and the services expose the engine: bind through a late port.
    let engine: SyncEngine | undefined;
    const sync: SyncTrigger = {
      sync: (id, req) => engine!.trigger.sync(id, req),
      progress: (id) => engine!.trigger.progress(id),
    };
    // One outbox reader per process, woken by NOTIFY; closed after the HTTP server (cleanups run in reverse).
    const eventStream = new EventStream({ url: db.url, orm, log: log.child({ module: 'events' }) });
    await eventStream.start();
    cleanups.push(['event stream', () => eventStream.close()]);
    // Webhooks: the service redelivers through the engine, which needs the services: bind through a late port.
    let webhookEngine: WebhookEngine | undefined;
    const webhookQueue: DeliveryQueue = { redeliver: (id) => webhookEngine!.redeliver(id) };
    const webhookGuard = new UrlGuard(config.webhooks.allowedHosts);
    const webhookSender = new WebhookSender(webhookGuard, config.webhooks.timeoutMs);
    cleanups.push(['webhook sender', () => webhookSender.close()]);
    const services = createServices({ orm, config, log, secretKey, stats: new EmailStatsService(orm), sync, folderStates: new MailboxStateService(orm), blobs: new BlobStore(path.join(config.dataDir, 'blobs')), eventStream, webhookDelivery: { guard: webhookGuard, sender: webhookSender, queue: webhookQueue } });
    engine = await createSyncEngine({ orm, databaseUrl: db.url, config, log, accounts: services.accounts });
    const syncEngine = engine;
    cleanups.push(['sync engine', () => syncEngine.close()]);
    const webhooks = await createWebhookEngine({ orm, databaseUrl: db.url, config, log, webhooks: services.webhooks, sender: webhookSender });
    webhookEngine = webhooks;
    cleanups.push(['webhooks', () => webhooks.close()]);
    const stopRetention = startEventRetention(orm, config.eventsRetentionDays, log.child({ module: 'events' }));
    cleanups.push(['event retention', async () => stopRetention()]);
    // One instance at a time, so two first starts never both create "the first key".
    const bootstrapKey = await withSessionLock(db.url, StartupLock.bootstrap, () =>
      orm.em.fork().transactional(() => services.auth.ensureBootstrapKey(config.bootstrapKey)),
    );
    if (bootstrapKey) {
      const id = bootstrapKey.key.id;
      discardBootstrapKey = () => orm.em.fork().transactional(() => services.auth.discardUnshownKey(id));
    }
    // Key changes made through any instance or the CLI reach this one's key cache and open WebSockets at once.
    const keyChanges = new PgPubSub(db.url, log.child({ module: 'auth' }));
    cleanups.push(['key changes', () => keyChanges.close()]);
    await services.auth.followChanges(keyChanges);
    const schema = await getSchema();
    signal?.throwIfAborted();
    const http = await buildHttpApp({ config, log, orm, schema, services, ready: readinessCheck(orm) });
    await listen(http.app, config);
    cleanups.push(['http', () => http.close()]);
    // Runs before the HTTP drain (cleanups run in reverse): a request waiting on a sync pass must not hold it.
    cleanups.push(['sync interrupt', async () => syncEngine.interrupt()]);
    const port = (http.app.server.address() as AddressInfo).port;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    log.info({ port, embeddedDatabase: db.embedded }, 'Incoming is listening');
    discardBootstrapKey = undefined;
    return { url: `http://${host}:${port}`, port, bootstrapKey, engine: syncEngine, events: eventStream, close: cleanup };
  } catch (err) {
    await discardBootstrapKey?.().catch((e: unknown) => log.error({ err: e }, 'could not remove the initial API key of this failed start'));
    await cleanup();
    throw explainPendingMigrations(err, pending);
  }
}

/** Binds HOST:PORT; the usual reasons it cannot (port taken, address not local, port privileged) name the variables. */
async function listen(app: HttpApp['app'], config: Config): Promise<void> {
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why: Record<string, string> = {
      EADDRINUSE: 'the port is already in use (another Incoming, or another program): stop it or set PORT',
      EADDRNOTAVAIL: 'the address is not one of this machine\'s: set HOST',
      EACCES: 'a port below 1024 needs privileges: set PORT to 1024 or above',
      ENOTFOUND: 'HOST is no address and no name that resolves: set HOST',
      EAI_AGAIN: 'HOST did not resolve (DNS not answering): set HOST to an address',
    };
    if (code && why[code]) throw new StartupError(`Cannot listen on ${config.host}:${config.port} (HOST:PORT): ${why[code]} (${code})`, { cause: err });
    throw err;
  }
}
