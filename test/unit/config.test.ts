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

  it('parses booleans and *_FILE is not required', () => {
    expect(loadConfig({ MIGRATE_ON_START: '0' }).migrateOnStart).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production' }).graphql.introspection).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' }).graphql.introspection).toBe(true);
  });
});
