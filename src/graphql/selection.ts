/** Which fields a resolver's caller selected, to skip work nobody asked for (e.g. a COUNT(*) behind `totalCount`). */
import { Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/** The fields named `name` directly in `sets` (through fragments too; directives ignored). */
function fieldsNamed(info: GraphQLResolveInfo, sets: readonly (SelectionSetNode | undefined)[], name: string): FieldNode[] {
  const out: FieldNode[] = [];
  const visit = (set: SelectionSetNode | undefined): void => {
    for (const s of set?.selections ?? []) {
      if (s.kind === Kind.FIELD) {
        if (s.name.value === name) out.push(s);
      } else visit(s.kind === Kind.INLINE_FRAGMENT ? s.selectionSet : info.fragments[s.name.value]?.selectionSet);
    }
  };
  sets.forEach(visit);
  return out;
}

/** Whether any of `names` is selected directly under the current field. */
export function selectsAny(info: GraphQLResolveInfo, names: readonly string[]): boolean {
  const sets = info.fieldNodes.map((n) => n.selectionSet);
  return names.some((name) => fieldsNamed(info, sets, name).length > 0);
}

/** Whether a nested field is selected under the current field, by path: `selectsPath(info, ['nodes', 'categories'])`. */
export function selectsPath(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  let fields: readonly FieldNode[] = info.fieldNodes;
  for (const name of path) {
    fields = fieldsNamed(info, fields.map((f) => f.selectionSet), name);
    if (fields.length === 0) return false;
  }
  return true;
}
