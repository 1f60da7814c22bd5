/** GraphQL: who am I (`viewer` / `validateKey`) and key management for `admin` keys. */
import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from '../type-graphql.js';
import { parseId, withoutNulls } from '../../shared/ids.js';
import type { AppContext } from '../context.js';
import { assertUnscoped, requirePrincipal } from './auth.guard.js';
import { parsePermissions } from './auth.service.js';
import { presentKey, presentPrincipal } from './auth.presenter.js';
import { ApiKeyInfoType, ApiKeyType, CreateApiKeyInputType, CreatedApiKeyType, KeyValidationType } from './auth.types.js';

@Resolver()
export class AuthResolver {
  @Authorized()
  @Query(() => ApiKeyInfoType, { description: 'The API key making this request' })
  viewer(@Ctx() ctx: AppContext): ApiKeyInfoType {
    return presentPrincipal(requirePrincipal(ctx));
  }

  @Authorized()
  @Mutation(() => KeyValidationType, { description: 'Validates the credentials of this request (REST: POST /api/auth/validate)' })
  validateKey(@Ctx() ctx: AppContext): KeyValidationType {
    return { valid: true, key: presentPrincipal(requirePrincipal(ctx)) };
  }

  @Authorized('admin')
  @Query(() => [ApiKeyType])
  async apiKeys(@Ctx() ctx: AppContext): Promise<ApiKeyType[]> {
    assertUnscoped(requirePrincipal(ctx));
    return (await ctx.services.auth.listKeys()).map(presentKey);
  }

  @Authorized('admin')
  @Mutation(() => CreatedApiKeyType)
  async createApiKey(@Arg('input', () => CreateApiKeyInputType) input: CreateApiKeyInputType, @Ctx() ctx: AppContext): Promise<CreatedApiKeyType> {
    assertUnscoped(requirePrincipal(ctx));
    const i = withoutNulls(input);
    const created = await ctx.services.auth.createKey({ ...i, name: input.name, permissions: parsePermissions(input.permissions) });
    return { key: presentKey(created.key), secret: created.secret };
  }

  @Authorized('admin')
  @Mutation(() => ApiKeyType)
  async revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: AppContext): Promise<ApiKeyType> {
    assertUnscoped(requirePrincipal(ctx));
    return presentKey(await ctx.services.auth.revokeKey(parseId(id)));
  }
}
