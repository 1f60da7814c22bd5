import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('applies documented defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(4000);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.migrateOnStart).toBe(true);
    expect(c.rateLimit).toEqual({ perMinute: 60, perHour: 1000 });
    expect(c.dataDir.endsWith('/data')).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names every invalid variable', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'abc', DATABASE_URL: 'mysql://x', MIGRATE_ON_START: 'maybe' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('PORT');
    expect(msg).toContain('DATABASE_URL');
    expect(msg).toContain('MIGRATE_ON_START');
  });

  it('requires the bootstrap key and secret together', () => {
    expect(() => loadConfig({ INCOMING_API_KEY: 'abcdefgh' })).toThrow(/INCOMING_API_KEY/);
    expect(() => loadConfig({ INCOMING_API_KEY: 'abcdefgh', INCOMING_API_SECRET: 'short' })).toThrow(/INCOMING_API_SECRET/);
  });

  it('failed-authentication limits and TRUST_PROXY: defaults, booleans, proxy lists; anything else is refused', () => {
    const c = loadConfig({});
    expect(c.authFailures).toEqual({ perIp: 20, perKey: 100, windowMs: 600_000 });
    expect(c.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'yes' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: 'off' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,2001:db8::1' }).trustProxy).toEqual(['loopback', '10.0.0.0/8', '2001:db8::1']);
    expect(() => loadConfig({ TRUST_PROXY: 'my-proxy.internal' })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ AUTH_FAILURE_WINDOW_SECONDS: '10' })).toThrow(/AUTH_FAILURE_WINDOW_SECONDS/);
    expect(loadConfig({ AUTH_FAILURES_PER_IP: '0' }).authFailures.perIp).toBe(0);
  });

  it('parses booleans and *_FILE is not required', () => {
    expect(loadConfig({ MIGRATE_ON_START: '0' }).migrateOnStart).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production' }).graphql.introspection).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' }).graphql.introspection).toBe(true);
  });

  it('reads numbers as decimal digits only: blank is unset, hex, exponents and fractions are refused', () => {
    // Number(' ') is 0: a blank PORT listened on a random port, a blank EVENTS_RETENTION_DAYS kept events forever.
    expect(loadConfig({ PORT: '  ', EVENTS_RETENTION_DAYS: ' ' })).toMatchObject({ port: 4000, eventsRetentionDays: 30 });
    expect(loadConfig({ PORT: ' 8080 ' }).port).toBe(8080);
    for (const bad of ['0x1f90', '1e3', '4000.0', '-1', '80abc']) {
      expect(() => loadConfig({ PORT: bad }), bad).toThrow(/PORT: must be a whole number from 0 to 65535/);
    }
    expect(() => loadConfig({ PORT: '65536' })).toThrow(/PORT: must be from 0 to 65535/);
  });

  it('a NAME_FILE that cannot be read is a configuration error naming it, not a crash', () => {
    expect(() => loadConfig({ INCOMING_SECRET_KEY_FILE: '/nonexistent/secret', PORT: 'x' })).toThrow(ConfigError);
    try {
      loadConfig({ INCOMING_SECRET_KEY_FILE: '/nonexistent/secret', PORT: 'x' });
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([
        'INCOMING_SECRET_KEY_FILE: cannot read /nonexistent/secret (ENOENT)',
        'PORT: must be a whole number from 0 to 65535',
      ]);
    }
  });

  it('WEBHOOK_ALLOWED_HOSTS: host names and IP addresses, checked label by label (no exponential backtracking)', () => {
    expect(loadConfig({ WEBHOOK_ALLOWED_HOSTS: ' Hooks.Example.com. , [::1], 10.0.0.5 ' }).webhooks.allowedHosts).toEqual(['hooks.example.com.', '::1', '10.0.0.5']);
    // 31 characters: the old whole-host regex backtracked exponentially on this (start-up hung; the test timed out).
    for (const bad of [`${'a'.repeat(30)}!`, 'a..b', 'http://x', '1.2.3.4:80']) {
      expect(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: bad }), bad).toThrow(/WEBHOOK_ALLOWED_HOSTS: must be a comma-separated list of host names or IP addresses/);
    }
  });

  it('DATABASE_URL must parse as a URL', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u:p@db:99999/x' })).toThrow(/DATABASE_URL: must be a valid URL/);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://[db/x' })).toThrow(/DATABASE_URL: must be a valid URL/);
    expect(loadConfig({ DATABASE_URL: 'postgresql://u:p%40ss@db:5433/x?sslmode=require' }).databaseUrl).toBe('postgresql://u:p%40ss@db:5433/x?sslmode=require');
  });
});
