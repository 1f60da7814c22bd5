/** Builds the executable schema from every module's resolvers; also emits schema/schema.graphql. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type AuthChecker } from '../modules/type-graphql.js';
import { assertPermissions, requirePrincipal } from '../modules/auth/index.js';
import type { AppContext } from '../modules/context.js';
import { resolvers } from '../modules/resolvers.js';

export const SCHEMA_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schema/schema.graphql');

/** `@Authorized('write')`: no principal → UNAUTHENTICATED; missing permission → FORBIDDEN naming it. */
const authChecker: AuthChecker<AppContext> = ({ context }, roles) => {
  assertPermissions(requirePrincipal(context), roles);
  return true;
};

let cached: Promise<GraphQLSchema> | undefined;

/** The schema (built once per process: type-graphql metadata is global). */
export function getSchema(): Promise<GraphQLSchema> {
  cached ??= buildSchema({
    resolvers: [...resolvers],
    authChecker,
    validate: false,
    emitSchemaFile: false,
  });
  return cached;
}

/** The SDL as checked in: sorted, so the file only changes when the API does. */
export async function printSdl(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await getSchema()))}\n`;
}
