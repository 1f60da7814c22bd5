/**
 * graphql-js `subscribe`, except that one source event is executed once per (caller, document, variables) instead of
 * once per subscriber. The event stream hands the same event object to every local subscriber, so a thousand clients
 * of one dashboard key cost one execution per event, not a thousand (execution was a quarter of the fan-out CPU).
 * The key includes the caller, so a result never crosses from one key's scope to another's.
 */
import { createSourceEventStream, execute, getOperationAST, print, type ExecutionArgs, type ExecutionResult } from 'graphql';

type Result = ExecutionResult | Promise<ExecutionResult>;

/** Results by source event object, then by caller + operation; entries go when the event object is collected. */
const results = new WeakMap<object, Map<string, Result>>();

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === 'object' && v !== null && Symbol.asyncIterator in v;
}

/**
 * The variables the operation declares: only they can change a result. The others are the client's raw JSON, which
 * graphql ignores; stringifying them could overflow the stack (a 200,000-deep array in one 1 MiB message).
 */
function declaredVariables(args: ExecutionArgs): Record<string, unknown> {
  const given = args.variableValues ?? {};
  const names = getOperationAST(args.document, args.operationName)?.variableDefinitions?.map((d) => d.variable.name.value) ?? [];
  return Object.fromEntries(names.filter((n) => Object.hasOwn(given, n)).map((n) => [n, given[n]]));
}

export async function sharedSubscribe(args: ExecutionArgs, caller: string): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!isAsyncIterable(source)) return source;
  const iterator = source[Symbol.asyncIterator]();
  const key = `${caller}\0${args.operationName ?? ''}\0${JSON.stringify(declaredVariables(args))}\0${print(args.document)}`;
  const resultFor = (root: unknown): Result => {
    if (typeof root !== 'object' || root === null) return execute({ ...args, rootValue: root });
    let byKey = results.get(root);
    if (!byKey) results.set(root, (byKey = new Map()));
    let r = byKey.get(key);
    if (!r) byKey.set(key, (r = execute({ ...args, rootValue: root })));
    return r;
  };
  const map = async (r: IteratorResult<unknown>): Promise<IteratorResult<ExecutionResult>> =>
    r.done ? { value: undefined, done: true } : { value: await resultFor(r.value), done: false };
  const mapped: AsyncIterableIterator<ExecutionResult> = {
    next: () => iterator.next().then(map),
    return: async () => (iterator.return ? map(await iterator.return()) : { value: undefined, done: true }),
    throw: async (err: unknown) => {
      if (iterator.return) await iterator.return();
      throw err;
    },
    [Symbol.asyncIterator]: () => mapped,
  };
  return mapped;
}
