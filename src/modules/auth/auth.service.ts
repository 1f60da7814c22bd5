/**
 * API keys: authentication (constant-time secret check), creation, listing, revocation and the bootstrap key; and the
 * announcement of key changes to every process, so that cached keys and open WebSockets follow a revocation at once.
 */
import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { exec } from '../../db/sql.js';
import { AppError } from '../../shared/errors.js';
import { digestsEqual, hashSecret, randomToken } from '../../shared/crypto.js';
import type { Logger } from '../../shared/logger.js';
import { ApiKey, PERMISSIONS, type Permission } from './api-key.entity.js';
import type { AuthThrottle } from './auth-throttle.js';

/** Who is calling: the authenticated key, with what it may do and see. */
export interface Principal {
  readonly keyId: number;
  readonly name: string;
  readonly permissions: readonly Permission[];
  /** Accounts the key may see; null = all accounts. */
  readonly accountIds: readonly number[] | null;
  readonly limits: { readonly perMinute: number; readonly perHour: number };
}

export interface CreateKeyInput {
  name: string;
  permissions: Permission[];
  accountIds?: number[] | null;
  requestsPerMinute?: number;
  requestsPerHour?: number;
  /** Given only for the bootstrap key; otherwise generated. */
  publicKey?: string;
  secret?: string;
}

export interface CreatedKey {
  key: ApiKey;
  /** The plain secret: shown once, never stored. */
  secret: string;
}

/** Where key changes announced by any process arrive (PgPubSub: one PostgreSQL LISTEN per process). */
export interface KeyChangeSource {
  /** Calls `fn` with each message on `channel`; resolves once listening, with a function that stops. */
  on(channel: string, fn: (payload: unknown) => void): Promise<() => void>;
}

/**
 * NOTIFY channel of key changes (revoked, re-enabled, new secret or permissions); the payload is the key's id. Sent in
 * the transaction of the change, so PostgreSQL delivers it at commit, also when the CLI made the change.
 */
export const API_KEYS_CHANNEL = 'incoming_api_keys';

export interface AuthServiceDeps {
  orm: MikroORM;
  log: Logger;
  defaults: { perMinute: number; perHour: number };
  /** The failed-authentication throttle of requests that say where they come from (the server's; the CLI has none). */
  throttle?: AuthThrottle;
}

/** Per-minute and per-hour limits are stored as PostgreSQL integers. */
const MAX_LIMIT = 2 ** 31 - 1;
const isLimit = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_LIMIT;

// A hash to compare against when the key id is unknown, so unknown ids and wrong secrets take the same time.
const DUMMY_SALT = randomBytes(16).toString('hex');
const DUMMY_HASH = hashSecret('dummy', DUMMY_SALT);

export function toPrincipal(key: ApiKey): Principal {
  return {
    keyId: key.id,
    name: key.name,
    permissions: [...key.permissions],
    accountIds: key.accountIds ? [...key.accountIds] : null,
    limits: { perMinute: key.requestsPerMinute, perHour: key.requestsPerHour },
  };
}

/** Validates and normalises a permission list (`read,write` or an array). */
export function parsePermissions(input: readonly string[]): Permission[] {
  const unknown = input.filter((p) => !(PERMISSIONS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    throw AppError.badInput(`permissions: unknown permission(s) ${unknown.join(', ')}; allowed: ${PERMISSIONS.join(', ')}`);
  }
  if (input.length === 0) throw AppError.badInput('permissions: at least one permission is required');
  return [...new Set(input as Permission[])];
}

interface CachedKey {
  principal: Principal;
  secretHash: string;
  secretSalt: string;
  revoked: boolean;
  expires: number;
}

/**
 * Key rows are cached for a few seconds so a request costs one round trip (the rate-limit upsert) instead of two.
 * A change drops the key from every instance's cache at once (API_KEYS_CHANNEL); the TTL only bounds how long a lost
 * notification (a LISTEN connection that dropped) could keep a revoked key working.
 *
 * Key ids no key has are cached as unknown for as long, apart (a flood of them cannot push the known keys out): a
 * client repeating one costs one query per KEY_CACHE_TTL_MS, not one per request. A key created on this instance is
 * known here at once; one created elsewhere (another instance, the CLI) within KEY_CACHE_TTL_MS.
 */
export const KEY_CACHE_TTL_MS = 5000;
const KEY_CACHE_MAX = 10_000;

export class AuthService {
  private readonly cache = new Map<string, CachedKey>();
  /** Key ids found in no row → until when that answer is reused. */
  private readonly unknown = new Map<string, number>();
  private readonly changeListeners = new Set<(keyId: number) => void>();
  /**
   * Counts the key changes (and creations) this process heard of. A key read from the database while a change
   * committed may hold the state before it: it is used for the request that read it, but cached only if no change was
   * heard meanwhile; the same holds for a key id found in no row.
   */
  private changes = 0;

  constructor(private readonly deps: AuthServiceDeps) {}

  private async lookup(publicKey: string): Promise<CachedKey | null> {
    const now = Date.now();
    const hit = this.cache.get(publicKey);
    if (hit && hit.expires > now) return hit;
    if ((this.unknown.get(publicKey) ?? 0) > now) return null;
    const changesBefore = this.changes;
    const key = await this.em.findOne(ApiKey, { publicKey });
    if (!key) {
      this.cache.delete(publicKey);
      if (changesBefore === this.changes) {
        if (this.unknown.size >= KEY_CACHE_MAX) this.unknown.clear();
        this.unknown.set(publicKey, now + KEY_CACHE_TTL_MS);
      }
      return null;
    }
    this.unknown.delete(publicKey);
    const entry = { principal: toPrincipal(key), secretHash: key.secretHash, secretSalt: key.secretSalt, revoked: !!key.revokedAt, expires: now + KEY_CACHE_TTL_MS };
    if (changesBefore !== this.changes) return entry;
    if (this.cache.size >= KEY_CACHE_MAX) this.cache.clear();
    this.cache.set(publicKey, entry);
    return entry;
  }

  private get em() {
    return this.deps.orm.em;
  }

  /**
   * Resolves the headers `X-API-Key` / `X-API-Secret` to a principal, or throws UNAUTHENTICATED. A request that says
   * which client address it comes from (`from`: every request and WebSocket connection; not the re-check of a socket
   * that authenticated already) goes through the failed-authentication throttle: RATE_LIMITED once its address or the
   * key failed too often.
   */
  async authenticate(publicKey: string | undefined, secret: string | undefined, from?: string): Promise<Principal> {
    if (!publicKey || !secret) throw AppError.unauthenticated('Missing API credentials: send X-API-Key and X-API-Secret');
    const client = from === undefined ? undefined : this.deps.throttle?.client(from);
    client?.check(null);
    const key = publicKey.length <= 128 ? await this.lookup(publicKey) : null;
    if (key) client?.check(key.principal.keyId);
    const ok = digestsEqual(hashSecret(secret, key?.secretSalt ?? DUMMY_SALT), key?.secretHash ?? DUMMY_HASH);
    if (!key || !ok || key.revoked) {
      await client?.failed(key ? key.principal.keyId : null);
      throw AppError.unauthenticated('Invalid API key or secret');
    }
    client?.succeeded(key.principal.keyId);
    return key.principal;
  }

  /**
   * Follows the key changes of every process (see API_KEYS_CHANNEL). Resolves once listening, with a function that
   * stops. Only long-running processes (the server) need it.
   */
  followChanges(source: KeyChangeSource): Promise<() => void> {
    return source.on(API_KEYS_CHANNEL, (payload) => this.changed(Number(payload)));
  }

  /** Calls `fn` with the id of each key that changed, in this process or another; returns a function that stops. */
  onKeyChange(fn: (keyId: number) => void): () => void {
    this.changeListeners.add(fn);
    return () => void this.changeListeners.delete(fn);
  }

  /** Drops the key from the cache and tells the listeners (open WebSockets re-check it). */
  private changed(keyId: number): void {
    if (!Number.isInteger(keyId)) return;
    this.changes++;
    for (const [publicKey, entry] of this.cache) if (entry.principal.keyId === keyId) this.cache.delete(publicKey);
    for (const fn of this.changeListeners) {
      try {
        fn(keyId);
      } catch (err) {
        this.deps.log.error({ err, keyId }, 'API key change listener failed');
      }
    }
  }

  /**
   * Writes a change of `key` and announces it: to this process at once, to the others through NOTIFY at commit (this
   * process hears its own notification too; re-checking a key twice is harmless). Should the NOTIFY fail, the other
   * instances still notice within KEY_CACHE_TTL_MS.
   */
  private async saveChange(key: ApiKey): Promise<void> {
    await this.em.flush();
    this.changed(key.id);
    await exec(this.em, 'SELECT pg_notify(?, ?)', [API_KEYS_CHANNEL, String(key.id)]);
  }

  /** Creates a key. The secret is returned once and stored only as a hash. */
  async createKey(input: CreateKeyInput): Promise<CreatedKey> {
    const name = input.name.trim();
    if (name.length < 1 || name.length > 100) throw AppError.badInput('name: must be 1–100 characters');
    const permissions = parsePermissions(input.permissions);
    const perMinute = input.requestsPerMinute ?? this.deps.defaults.perMinute;
    const perHour = input.requestsPerHour ?? this.deps.defaults.perHour;
    if (!isLimit(perMinute)) throw AppError.badInput(`requests_per_minute: must be a whole number from 1 to ${MAX_LIMIT}`);
    if (!isLimit(perHour)) throw AppError.badInput(`requests_per_hour: must be a whole number from 1 to ${MAX_LIMIT}`);
    const publicKey = input.publicKey ?? randomToken('ink_', 12);
    const secret = input.secret ?? randomToken('ins_', 32);
    if (await this.em.count(ApiKey, { publicKey })) throw AppError.conflict('An API key with this id already exists');
    const salt = randomBytes(16).toString('hex');
    const key = this.em.create(ApiKey, {
      name,
      publicKey,
      secretHash: hashSecret(secret, salt),
      secretSalt: salt,
      permissions,
      accountIds: await this.accountScope(input.accountIds),
      requestsPerMinute: perMinute,
      requestsPerHour: perHour,
    });
    await this.em.flush();
    // Known here at once, though a request may just have found no such key (and one in flight may find none yet).
    this.changes++;
    this.unknown.delete(publicKey);
    return { key, secret };
  }

  /**
   * A new key's account scope: existing accounts, each once (null: every account). Account ids are never reused, but
   * one no account has yet would be: a key scoped to it would see the account created under that id later. An empty
   * list is refused: it would be a key that sees nothing, and is most often a list that came out empty by mistake.
   */
  private async accountScope(ids: readonly number[] | null | undefined): Promise<number[] | null> {
    if (ids === null || ids === undefined) return null;
    if (ids.length === 0) throw AppError.badInput('account_ids: give at least one account id, or none at all for a key that sees every account');
    const unique = [...new Set(ids)];
    const valid = unique.filter((id) => Number.isInteger(id) && id >= 1 && id <= 2 ** 31 - 1);
    const found = new Set(
      valid.length === 0 ? [] : (await exec<{ id: number }>(this.em, 'SELECT id FROM accounts WHERE id = ANY(?::int[])', [valid])).map((r) => r.id),
    );
    const unknown = unique.filter((id) => !found.has(id));
    if (unknown.length > 0) throw AppError.badInput(`account_ids: no account has the id ${unknown.join(', ')}`);
    return unique;
  }

  /** Every key, newest first (secrets are never readable). */
  async listKeys(): Promise<ApiKey[]> {
    return this.em.find(ApiKey, {}, { orderBy: { id: 'desc' } });
  }

  /** Revokes a key by id; a revoked key authenticates no more. */
  async revokeKey(id: number): Promise<ApiKey> {
    const key = await this.em.findOne(ApiKey, { id });
    if (!key) throw AppError.notFound('API key', id);
    if (key.revokedAt) return key;
    key.revokedAt = new Date();
    await this.saveChange(key);
    return key;
  }

  /**
   * Deletes the initial key of a start that failed before it could show the secret: otherwise the next start would
   * find a key, create none, and nobody would ever have seen a secret that works.
   */
  async discardUnshownKey(id: number): Promise<void> {
    await this.em.nativeDelete(ApiKey, { id });
  }

  /**
   * Start-up bootstrap. With INCOMING_API_KEY/SECRET set, makes sure that key exists with all permissions (the secret
   * is re-hashed if it changed). With none given and no key at all, creates one and returns it so it can be printed once.
   */
  async ensureBootstrapKey(given: { key: string; secret: string } | undefined): Promise<CreatedKey | null> {
    if (given) {
      const existing = await this.em.findOne(ApiKey, { publicKey: given.key });
      if (!existing) {
        await this.createKey({ name: 'Bootstrap key', permissions: [...PERMISSIONS], publicKey: given.key, secret: given.secret });
        this.deps.log.info({ keyId: given.key }, 'bootstrap API key created from INCOMING_API_KEY');
        return null;
      }
      let changed = false;
      if (!digestsEqual(hashSecret(given.secret, existing.secretSalt), existing.secretHash) || existing.revokedAt) {
        existing.secretSalt = randomBytes(16).toString('hex');
        existing.secretHash = hashSecret(given.secret, existing.secretSalt);
        existing.revokedAt = null;
        changed = true;
      }
      if (PERMISSIONS.some((p) => !existing.permissions.includes(p))) {
        existing.permissions = [...PERMISSIONS];
        changed = true;
      }
      if (changed) await this.saveChange(existing);
      return null;
    }
    if ((await this.em.count(ApiKey, {})) > 0) return null;
    return this.createKey({ name: 'Initial admin key', permissions: [...PERMISSIONS] });
  }
}
