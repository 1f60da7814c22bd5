/** Apollo Server over the schema (executed by graphql-jit, see jit.ts), with graphql-armor limits and the error formatter. */
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { GraphQLSchema, ValidationRule } from 'graphql';
import type { Config } from '../config.js';
import type { AppContext } from '../modules/context.js';
import type { Logger } from '../shared/logger.js';
import { formatGraphQLError } from './errors.js';
import { jitGateway } from './jit.js';

export interface Protection {
  readonly validationRules: ValidationRule[];
  readonly plugins: ApolloServerPlugin[];
}

/** Upper bound on lexical tokens in one document (parser-level DoS guard). */
export const MAX_TOKENS = 5000;

/** Depth, cost, alias, directive and token limits; field suggestions off with introspection. Shared with graphql-ws. */
export function protection(config: Config['graphql']): Protection {
  const armor = new ApolloArmor({
    maxDepth: { n: config.maxDepth },
    costLimit: { maxCost: config.maxCost },
    maxAliases: { n: 30 },
    maxDirectives: { n: 50 },
    // Token limits go through graphql's own parser option (parseOptions) so syntax errors stay 400s.
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: !config.introspection },
  });
  const p = armor.protect();
  return { validationRules: p.validationRules as ValidationRule[], plugins: p.plugins as ApolloServerPlugin[] };
}

export function createApollo(schema: GraphQLSchema, config: Config, log: Logger, extraPlugins: ApolloServerPlugin<AppContext>[]): ApolloServer<AppContext> {
  const guard = protection(config.graphql);
  return new ApolloServer<AppContext>({
    gateway: jitGateway(schema),
    introspection: config.graphql.introspection,
    includeStacktraceInErrorResponses: false,
    // Our own shutdown (cli/serve.ts) drains HTTP first; Apollo's handlers would re-raise the signal and skip it.
    stopOnTerminationSignals: false,
    validationRules: guard.validationRules,
    parseOptions: { maxTokens: MAX_TOKENS },
    plugins: [...(guard.plugins as ApolloServerPlugin<AppContext>[]), ...extraPlugins],
    formatError: (formatted, error) => formatGraphQLError(formatted, error, log),
  });
}
