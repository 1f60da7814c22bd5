/**
 * Apollo over our schema: a request must not wrap the schema's field resolvers (Apollo does so for every field once any
 * plugin has a willResolveField hook, as its default cache-control plugin has). The schema is shared with the REST
 * layer, and wrapped plain fields cost a call each and cannot be inlined by graphql-jit.
 */
import type { GraphQLObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createApollo } from '../../src/graphql/apollo.js';
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
});
