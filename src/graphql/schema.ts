/** Builds the executable schema from every module's resolvers; also emits schema/schema.graphql. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type AuthChecker } from '../modules/type-graphql.js';
import { assertPermissions, requirePrincipal } from '../modules/auth/index.js';
import type { AppContext } from '../modules/context.js';
import { resolvers } from '../modules/resolvers.js';
import { rejectNulArguments } from './nul-arguments.js';

export const SCHEMA_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schema/schema.graphql');

/** `@Authorized('write')`: no principal → UNAUTHENTICATED; missing permission → FORBIDDEN naming it. */
const authChecker: AuthChecker<AppContext> = ({ context }, roles) => {
  assertPermissions(requirePrincipal(context), roles);
  return true;
};

/**
 * type-graphql insists on a pubSub once a schema has subscriptions. Ours never use it: every subscription has its own
 * `subscribe` function over the PostgreSQL-backed streams (cross-instance), so this one refuses to be used.
 */
const noPubSub = {
  publish(): void {
    throw new Error('subscriptions publish through PostgreSQL, not type-graphql pubSub');
  },
  subscribe(): never {
    throw new Error('every @Subscription must declare its own subscribe function');
  },
};

let cached: Promise<GraphQLSchema> | undefined;

/** The schema (built once per process: type-graphql metadata is global). */
export function getSchema(): Promise<GraphQLSchema> {
  cached ??= buildSchema({
    resolvers: [...resolvers],
    authChecker,
    // No class-validator: the services check their input (zod); NUL characters are refused here, for every argument.
    validate: false,
    validateFn: rejectNulArguments,
    emitSchemaFile: false,
    pubSub: noPubSub,
  });
  return cached;
}

/** The SDL as checked in: sorted, so the file only changes when the API does. */
export async function printSdl(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await getSchema()))}\n`;
}
