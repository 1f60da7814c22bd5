/**
 * type-graphql's decorators, re-exported after loading the `reflect-metadata` polyfill they require (even with
 * explicit type functions). Modules import decorators from here so the polyfill is always loaded first.
 *
 * Two are our own:
 * - `ObjectType` defaults to `simpleResolvers: true`: a plain `@Field` is read straight off the object. Otherwise
 *   type-graphql gives every field a resolver that runs its (empty) middleware stack, and graphql-jit cannot inline the
 *   property read: ~2,500 such calls for a page of 100 emails, ~40% of the server CPU of a REST list request.
 *   Simple resolvers skip auth checks and middlewares of plain fields; we have no global middlewares, and:
 * - `Authorized` refuses to decorate a plain field (a property): its check would be skipped. Guard such a field with a
 *   `@FieldResolver` (they keep type-graphql's full pipeline), or a query/mutation, as every permission here is.
 * - `Mutation` empties the request's DataLoaders before the mutation runs (see `freshLoaders`).
 */
import 'reflect-metadata';
import {
  Authorized as BaseAuthorized,
  Mutation as BaseMutation,
  ObjectType as BaseObjectType,
  UseMiddleware,
  type MiddlewareFn,
  type ObjectTypeOptions,
} from 'type-graphql';

export * from 'type-graphql';

export function ObjectType(): ClassDecorator;
export function ObjectType(options: ObjectTypeOptions): ClassDecorator;
export function ObjectType(name: string, options?: ObjectTypeOptions): ClassDecorator;
export function ObjectType(nameOrOptions?: string | ObjectTypeOptions, maybeOptions?: ObjectTypeOptions): ClassDecorator {
  if (typeof nameOrOptions === 'string') return BaseObjectType(nameOrOptions, { simpleResolvers: true, ...maybeOptions });
  return BaseObjectType({ simpleResolvers: true, ...nameOrOptions });
}

type AuthorizedDecorator = ReturnType<typeof BaseAuthorized>;

export function Authorized(...roles: string[]): AuthorizedDecorator {
  const base = BaseAuthorized(...roles);
  return ((target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (propertyKey !== undefined && descriptor === undefined) {
      throw new Error(`@Authorized on the plain field ${target.constructor.name}.${String(propertyKey)} would not be checked (simple resolvers): use a @FieldResolver`);
    }
    return (base as (t: object, k?: string | symbol, d?: PropertyDescriptor) => void)(target, propertyKey, descriptor);
  }) as AuthorizedDecorator;
}

/**
 * A request's DataLoaders cache what they read for the whole request (`AppContext.loaders`). The mutations of one
 * document run one after the other, each seeing the writes of the previous ones, so what a loader read for an earlier
 * mutation's result may be stale for a later one's (`a: updateEmail(…) { categories }  b: updateEmail(…categoryIds…)
 * { categories }` showed `b` the categories before its own change). So every mutation starts with empty loaders; the
 * fields of its own result still share them. Typed structurally: this module is imported before the context's.
 */
const freshLoaders: MiddlewareFn<{ loaders?: Readonly<Record<string, { clearAll(): unknown }>> }> = ({ context }, next) => {
  for (const loader of Object.values(context.loaders ?? {})) loader.clearAll();
  return next();
};

// Not exported by type-graphql: taken from its last overload, `Mutation(returnTypeFunc, options?)`.
type ReturnTypeFunc = Parameters<typeof BaseMutation>[0];
type AdvancedOptions = NonNullable<Parameters<typeof BaseMutation>[1]>;

export function Mutation(): MethodDecorator;
export function Mutation(options: AdvancedOptions): MethodDecorator;
export function Mutation(returnTypeFunc: ReturnTypeFunc, options?: AdvancedOptions): MethodDecorator;
export function Mutation(...args: unknown[]): MethodDecorator {
  const base = (BaseMutation as (...a: unknown[]) => MethodDecorator)(...args);
  const fresh = UseMiddleware(freshLoaders);
  return (target, key, descriptor) => {
    fresh(target, key, descriptor);
    return base(target, key, descriptor);
  };
}
