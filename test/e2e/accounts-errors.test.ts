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

  it('a password of the wrong type is never echoed in a GraphQL error (nor a webhook secret)', async () => {
    const createAccount = 'mutation($i: CreateAccountInput!) { createAccount(input: $i) { id } }';
    const cases: [string, Record<string, unknown>][] = [
      [createAccount, { i: { ...accountBody(), password: 987654321 } }],
      [createAccount, { i: { ...accountBody(), password: ['987654321'] } }],
      [createAccount, { i: { ...accountBody(), password: { nested: '987654321' } } }],
      // The whole input object is printed when a field is missing or unknown.
      [createAccount, { i: { ...accountBody(), host: undefined, password: '987654321' } }],
      [createAccount, { i: { ...accountBody(), colour: 'red', password: '987654321' } }],
      ['mutation($i: UpdateAccountInput!) { updateAccount(id: 1, input: $i) { id } }', { i: { password: 987654321 } }],
      ['mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { secret } }', { i: { url: 'https://example.com/h', events: ['email.received'], secret: 987654321 } }],
    ];
    for (const [query, variables] of cases) {
      const r = await t.srv.api('/graphql', { method: 'POST', json: { query, variables } });
      expect(r.status, r.text).toBe(400);
      expect(r.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(r.text, r.text).not.toContain('987654321');
    }
    // Nor a literal in the document itself.
    for (const literal of ['987654321', '[987654321]', '{ x: 987654321 }']) {
      const doc = `mutation { createAccount(input: {name: "xx", email: "a@b.co", host: "h", port: 1, username: "u", password: ${literal}}) { id } }`;
      const lit = await t.srv.api('/graphql', { method: 'POST', json: { query: doc } });
      expect(lit.status, lit.text).toBe(400);
      expect(lit.body.errors[0].message).toMatch(/String cannot represent a non string value/);
      expect(lit.text, lit.text).not.toContain('987654321');
    }
    // Still says what is wrong, and where.
    const r = await t.srv.api('/graphql', { method: 'POST', json: { query: createAccount, variables: cases[0]![1] } });
    expect(r.body.errors[0].message).toMatch(/"i\.password".*String cannot represent a non string value/);
    // Other fields keep their value in the message.
    const port = await t.srv.api('/graphql', { method: 'POST', json: { query: createAccount, variables: { i: { ...accountBody(), port: 'nine' } } } });
    expect(port.body.errors[0].message).toContain('"nine"');
  });

  it('a refused login gives the server’s reason once', async () => {
    const creds = await t.dovecot.createUser();
    const id = (await create({ email: 'auth@example.com', username: creds.user, password: 'wrong' })).body.data.id as number;
    const r = await t.srv.api(`/api/accounts/${id}/test`, { method: 'POST' });
    expect(r.body.data).toEqual({ connected: false, folders: [], message: 'Authentication failed.' });
  });

  it('an IP address as host is not sent as the TLS server name (RFC 6066; Node warns DEP0123)', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const id = (await create({ email: 'ip-tls@example.com', encryption: 'ssl' })).body.data.id as number;
      const r = await t.srv.api(`/api/accounts/${id}/test`, { method: 'POST' });
      expect(r.body.data.connected).toBe(false);
      expect(r.body.data.message).toBe(`TLS negotiation with 127.0.0.1:${t.dovecot.port} failed: wrong version number (the server did not answer in TLS: check the port and the encryption setting)`);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.message)).toEqual([]);
  });
});
