/** sharedSubscribe with hostile variables: what is not declared by the operation plays no part. */
import { buildSchema, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { sharedSubscribe } from '../../src/graphql/shared-execution.js';

const schema = buildSchema('type Query { ok: Boolean } type Subscription { tick(n: Int): Int }');
const rootValue = {
  tick: async function* () {
    yield { tick: 1 };
  },
};

describe('sharedSubscribe', () => {
  it('ignores undeclared variables, however deeply nested (JSON.stringify of them overflowed the stack: close 4500)', async () => {
    let deep: unknown = [];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const result = await sharedSubscribe(
      { schema, rootValue, document: parse('subscription($n: Int) { tick(n: $n) }'), variableValues: { n: 1, x: deep } },
      'key-1',
    );
    expect(Symbol.asyncIterator in result).toBe(true);
    const first = await (result as AsyncIterableIterator<unknown>).next();
    expect(first).toEqual({ done: false, value: { data: { tick: 1 } } });
  });
});
