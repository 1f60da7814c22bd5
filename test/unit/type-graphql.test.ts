/** Our type-graphql decorators: object types read plain fields directly, and @Authorized refuses a plain field. */
import { graphql, type GraphQLObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { Authorized, buildSchema, Field, FieldResolver, ObjectType, Query, Resolver, Root } from '../../src/modules/type-graphql.js';

@ObjectType('Thing')
class Thing {
  @Field(() => String) name!: string;
  @Field(() => String) secret!: string;
}

@Resolver(() => Thing)
class ThingResolver {
  @Query(() => Thing)
  thing(): Thing {
    return { name: 'a', secret: 'b' };
  }

  @Authorized('admin')
  @FieldResolver(() => String)
  secret(@Root() t: Thing): string {
    return t.secret;
  }
}

describe('type-graphql decorators', () => {
  it('plain fields have no resolver (graphql-jit reads them inline); field resolvers keep the auth check', async () => {
    const schema = await buildSchema({ resolvers: [ThingResolver], authChecker: ({ context }) => (context as { admin: boolean }).admin, validate: false });
    const fields = (schema.getType('Thing') as GraphQLObjectType).getFields();
    expect(fields.name!.resolve).toBeUndefined();
    expect(fields.secret!.resolve).toBeTypeOf('function');
    expect((await graphql({ schema, source: '{ thing { name secret } }', contextValue: { admin: true } })).data).toEqual({ thing: { name: 'a', secret: 'b' } });
    const denied = await graphql({ schema, source: '{ thing { name secret } }', contextValue: { admin: false } });
    expect(denied.errors?.[0]?.message).toMatch(/access denied/i);
  });

  it('@Authorized on a plain field is refused (its check would be skipped)', () => {
    expect(() => {
      @ObjectType('Leaky')
      class Leaky {
        @Authorized('admin')
        @Field(() => String)
        secret!: string;
      }
      return Leaky;
    }).toThrow(/Leaky\.secret would not be checked/);
  });
});
