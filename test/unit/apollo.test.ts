/**
 * Apollo over our schema: a request must not wrap the schema's field resolvers (Apollo does so for every field once any
 * plugin has a willResolveField hook, as its default cache-control plugin has). The schema is shared with the REST
 * layer, and wrapped plain fields cost a call each and cannot be inlined by graphql-jit.
 */
import { parse, type GraphQLObjectType } from 'graphql';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createApollo, protection } from '../../src/graphql/apollo.js';
import { getSchema } from '../../src/graphql/schema.js';
import type { AppContext } from '../../src/modules/context.js';
import type { Logger } from '../../src/shared/logger.js';

const quiet: Logger = { info() {}, warn() {}, error() {}, debug() {}, child: () => quiet };

describe('Apollo', () => {
  it('leaves plain fields without resolvers after executing (no per-field plugin hooks); responses are no-store', async () => {
    const schema = await getSchema();
    const apollo = createApollo(schema, loadConfig({}), quiet, []);
    await apollo.start();
    try {
      const context = {} as AppContext;
      for (let i = 0; i < 2; i++) {
        const r = await apollo.executeOperation({ query: '{ __typename }' }, { contextValue: context });
        expect(r.body.kind === 'single' && r.body.singleResult.data).toEqual({ __typename: 'Query' });
        expect(r.http.headers.get('cache-control')).toBe('no-store');
      }
      const email = (schema.getType('Email') as GraphQLObjectType).getFields();
      expect(email.subject!.resolve).toBeUndefined();
      expect(email.receivedAt!.resolve).toBeUndefined();
    } finally {
      await apollo.stop();
    }
  });

  it('answers 400 without logging a fault for an operation it cannot pick or a subscription (graphql-ws only)', async () => {
    const log = { ...quiet, warn: vi.fn(), error: vi.fn() };
    const apollo = createApollo(await getSchema(), loadConfig({}), log, []);
    await apollo.start();
    try {
      for (const [request, code, message] of [
        [{ query: 'query A { __typename } query B { __typename }' }, 'OPERATION_RESOLUTION_FAILURE', 'Must provide operation name if query contains multiple operations.'],
        [{ query: 'query A { __typename }', operationName: 'Nope' }, 'OPERATION_RESOLUTION_FAILURE', 'Unknown operation named "Nope".'],
        [{ query: 'subscription { events { seq } }' }, 'BAD_USER_INPUT', expect.stringContaining('WebSocket')],
        [{ query: 'subscription { syncProgress(accountId: "1") { accountId } }' }, 'BAD_USER_INPUT', expect.stringContaining('WebSocket')],
      ] as const) {
        // Twice: the second run of a document is the one graphql-jit compiles.
        for (let i = 0; i < 2; i++) {
          const r = await apollo.executeOperation(request, { contextValue: {} as AppContext });
          expect(r.http.status, JSON.stringify(request)).toBe(400);
          expect(r.body.kind === 'single' && r.body.singleResult.errors).toEqual([expect.objectContaining({ message, extensions: { code } })]);
        }
      }
      expect(log.error).not.toHaveBeenCalled();
      expect(log.warn).not.toHaveBeenCalled();
    } finally {
      await apollo.stop();
    }
  });

  it('masks field suggestions without introspection, in linear time however the document repeats "Did you mean"', async () => {
    const schema = await getSchema();
    const { validate } = protection({ ...loadConfig({}).graphql, introspection: false });
    const messages = (doc: string) => validate(schema, parse(doc)).map((e) => e.message);
    expect(messages('subscription { emailRecieved { __typename } }')).toEqual(['Cannot query field "emailRecieved" on type "Subscription". [Suggestion hidden]']);
    expect(messages('{ accont(id: 1) { id } }').join()).toMatch(/^Cannot query field "accont" on type "Query"\. \[Suggestion hidden\]$/);
    // A block string is printed raw in the message: the old `".+"\?` scanned to its end from each repetition (a minute
    // for this 540 KB document; the test timed out).
    const block = 'Did you mean "a'.repeat(36_000);
    const [message] = messages(`subscription ($x: Int = """${block}""") { emailReceived { __typename } }`);
    expect(message).toBe(`Int cannot represent non-integer value: """\n${block}\n"""`);
  });

  it('over HTTP (Apollo) the same mask as over the WebSocket, and linear too', async () => {
    const apollo = createApollo(await getSchema(), loadConfig({ GRAPHQL_INTROSPECTION: 'false' }), quiet, []);
    await apollo.start();
    try {
      const errors = async (query: string, variables?: Record<string, unknown>) => {
        const r = await apollo.executeOperation({ query, variables }, { contextValue: {} as AppContext });
        return (r.body.kind === 'single' && r.body.singleResult.errors ? r.body.singleResult.errors : []).map((e) => e.message);
      };
      expect((await errors('{ accont(id: 1) { id } }')).join()).toMatch(/^Cannot query field "accont" on type "Query"\. \[Suggestion hidden\]$/);
      // The block string is printed raw in the validation error (see the WebSocket case above).
      const block = 'Did you mean "a'.repeat(36_000);
      const [message] = await errors(`query ($x: Int = """${block}""") { __typename }`);
      expect(message).toBe(`Int cannot represent non-integer value: """\n${block}\n"""`);
    } finally {
      await apollo.stop();
    }
  });
});
