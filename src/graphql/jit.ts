/**
 * GraphQL execution compiled with graphql-jit: the same schema, resolvers and results as graphql-js's interpreter, with
 * much less CPU per request (the interpreter re-walks the document, the field definitions and every value's type on
 * each execution). Used by the REST layer for its fixed operations (compiled at start-up) and, through Apollo's
 * executor hook, by /graphql for documents sent more than once (see `jitGateway`).
 */
import type { ApolloServerOptionsWithGateway } from '@apollo/server';
import { execute, GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { executeWithinTimeout } from './statement-timeout.js';

type Gateway = NonNullable<ApolloServerOptionsWithGateway<Record<string, unknown>>['gateway']>;

/** Compiles one operation of a validated document; throws with GraphQL's message if it cannot be compiled. */
export function compileOperation(schema: GraphQLSchema, document: DocumentNode, operationName?: string): CompiledQuery {
  const c = compileQuery(schema, document, operationName);
  if (!isCompiledQuery(c)) throw new Error(`operation does not compile: ${c.errors?.[0]?.message ?? 'unknown error'}`);
  return c;
}

/**
 * graphql-jit reports errors as its own GraphQLError (sharing graphql's prototype, but with `locations` instead of
 * `nodes` and no `extensions` when the cause has none, which Apollo's error formatting cannot handle): rebuilt as
 * graphql's own, with the same message, path, locations, cause and extensions.
 */
function asGraphQLError(e: GraphQLError): GraphQLError {
  const err = new GraphQLError(e.message, { path: e.path, originalError: e.originalError, extensions: e.extensions ?? undefined });
  (err as { locations?: GraphQLError['locations'] }).locations = e.locations;
  return err;
}

/** A document's operations by name: how often each ran, and its compiled form once it has one (null: not compilable). */
type Seen = Map<string, { runs: number; compiled?: CompiledQuery | null }>;

/**
 * Apollo's executor hook (`gateway`) serving our own schema, with graphql-jit execution. A document is compiled the
 * second time it is executed (as Mercurius does): compiling costs several executions' worth of CPU, so documents sent
 * once (or a stream of distinct documents) run on graphql-js's interpreter and never pay it. Apollo parses and
 * validates as usual, and caches the parsed document by query text, so the same text comes back as the same
 * DocumentNode and the compiled query is found again (held weakly: it goes with the document when Apollo evicts it).
 * Variables are coerced by graphql-js first, so invalid variables get exactly its errors (which Apollo answers 400).
 * Subscriptions (over HTTP) and anything graphql-jit cannot compile keep the interpreter.
 */
export function jitGateway(schema: GraphQLSchema, statementTimeoutMs = 0): Gateway {
  const seen = new WeakMap<DocumentNode, Seen>();
  const compiledFor = (document: DocumentNode, operationName: string | null, kind: string): CompiledQuery | null => {
    if (kind === 'subscription') return null;
    let ops = seen.get(document);
    if (!ops) seen.set(document, (ops = new Map()));
    const key = operationName ?? '';
    const entry = ops.get(key) ?? { runs: 0 };
    ops.set(key, entry);
    if (++entry.runs < 2) return null;
    if (entry.compiled === undefined) {
      try {
        entry.compiled = compileOperation(schema, document, operationName ?? undefined);
      } catch {
        entry.compiled = null;
      }
    }
    return entry.compiled;
  };
  return {
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => undefined;
    },
    async load() {
      return {
        executor: (rc) => executeWithinTimeout(statementTimeoutMs, rc.document, rc.request.operationName, async (): Promise<ExecutionResult> => {
          const variables = rc.request.variables ?? {};
          // No operation when the document has several and names none, or names one it lacks: graphql-js's execute
          // reports which, and Apollo answers that 400. It must see the name the client sent: `rc.operationName` is
          // the resolved operation's (null here), with which a one-operation document would just run.
          const compiled = rc.operation ? compiledFor(rc.document, rc.operationName, rc.operation.operation) : null;
          if (!compiled) {
            const operationName = rc.request.operationName;
            return execute({ schema, document: rc.document, operationName, variableValues: variables, contextValue: rc.context });
          }
          const coerced = getVariableValues(schema, rc.operation.variableDefinitions ?? [], variables, { maxErrors: 50 });
          if (coerced.errors) return { errors: coerced.errors };
          const result = await compiled.query(undefined, rc.context, variables);
          return result.errors ? { ...result, errors: result.errors.map(asGraphQLError) } : result;
        }),
      };
    },
    async stop() {},
  };
}
