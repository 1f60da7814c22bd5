/**
 * The permissions an operation needs, read from the `@Authorized(...)` metadata of its root fields — the same source
 * the GraphQL authChecker uses. The REST layer checks them before coercing input, so a caller without permission gets
 * 403, not a validation message about a route it may not use.
 */
import { Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { getMetadataStorage } from '../modules/type-graphql.js';

let index: Map<string, string[]> | undefined;

function rootFieldRoles(): Map<string, string[]> {
  if (index) return index;
  const storage = getMetadataStorage();
  const roles = (target: Function, field: string): string[] =>
    storage.authorizedFields.find((a) => a.target === target && a.fieldName === field)?.roles.map(String) ?? [];
  index = new Map([
    ...storage.queries.map((q) => [`query.${q.schemaName}`, roles(q.target, q.methodName)] as const),
    ...storage.mutations.map((m) => [`mutation.${m.schemaName}`, roles(m.target, m.methodName)] as const),
  ]);
  return index;
}

/** Union of the permissions required by the operation's root fields. */
export function requiredPermissions(document: DocumentNode): string[] {
  const op = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (!op) return [];
  const needed = new Set<string>();
  for (const sel of op.selectionSet.selections) {
    if (sel.kind !== Kind.FIELD) continue;
    for (const r of rootFieldRoles().get(`${op.operation}.${sel.name.value}`) ?? []) needed.add(r);
  }
  return [...needed];
}
