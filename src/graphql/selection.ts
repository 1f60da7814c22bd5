/** Which fields a resolver's caller selected, to skip work nobody asked for (e.g. a COUNT(*) behind `totalCount`). */
import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/** Whether any of `names` is selected directly under the current field (through fragments too; directives ignored). */
export function selectsAny(info: GraphQLResolveInfo, names: readonly string[]): boolean {
  const visit = (set: SelectionSetNode | undefined): boolean =>
    !!set?.selections.some((s) => {
      if (s.kind === Kind.FIELD) return names.includes(s.name.value);
      if (s.kind === Kind.INLINE_FRAGMENT) return visit(s.selectionSet);
      return visit(info.fragments[s.name.value]?.selectionSet);
    });
  return info.fieldNodes.some((n) => visit(n.selectionSet));
}
