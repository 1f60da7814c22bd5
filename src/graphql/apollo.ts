/** Apollo Server over the schema (executed by graphql-jit, see jit.ts), with graphql-armor limits and the error formatter. */
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, NoSchemaIntrospectionCustomRule, specifiedRules, validate, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import type { Config } from '../config.js';
import type { AppContext } from '../modules/context.js';
import { ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { formatGraphQLError } from './errors.js';
import { jitGateway } from './jit.js';

export interface Protection {
  readonly validationRules: ValidationRule[];
  readonly plugins: ApolloServerPlugin[];
  /**
   * Validation as Apollo does it, for documents that do not go through Apollo (graphql-ws): graphql-js's rules, the
   * limits above and, with introspection off, no `__schema`/`__type` and field suggestions masked. (Apollo applies
   * those two through its `introspection` option and armor's plugin, which a plain `validate` call never sees.)
   */
  validate(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[];
}

/** What replaces graphql-js's "Did you mean …?" when introspection is off (the same text over HTTP and WebSocket). */
const SUGGESTION_MASK = '[Suggestion hidden]';

/**
 * graphql-js's suggestion list (`Did you mean "a"?`, `"a" or "b"?`, `"a", "b", or "c"?`): names only. `".+"\?` scanned
 * to the end of the line from every `Did you mean "`, and a block string repeating it (printed raw in the message)
 * made validation quadratic: half a megabyte of document held the event loop for a minute.
 */
const SUGGESTION = /Did you mean "\w+"(?:, "\w+")*(?:,? or "\w+")?\?/g;

const maskSuggestions = (e: { message: string }) => {
  e.message = e.message.replace(SUGGESTION, SUGGESTION_MASK).trim();
};

/**
 * The same masking for Apollo (HTTP), on every error of a request. graphql-armor's blockFieldSuggestion did it with
 * `/Did you mean ".+"/g`: it left the `?` behind (`[Suggestion hidden]?` over HTTP, `[Suggestion hidden]` over the
 * WebSocket) and, being greedy, also hid whatever followed up to the line's last quote. One pattern for both now.
 */
const suggestionMask: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didEncounterErrors({ errors }) {
        for (const e of errors) maskSuggestions(e);
      },
    };
  },
};

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
    blockFieldSuggestion: { enabled: false }, // `suggestionMask` instead
  });
  const p = armor.protect();
  const validationRules = p.validationRules as ValidationRule[];
  const standalone = [...specifiedRules, ...validationRules, ...(config.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  return {
    validationRules,
    plugins: [...(p.plugins as ApolloServerPlugin[]), ...(config.introspection ? [] : [suggestionMask])],
    validate: (schema, document) => {
      const errors = validate(schema, document, standalone);
      if (config.introspection) return errors;
      for (const e of errors) maskSuggestions(e);
      return errors;
    },
  };
}

/** `Cache-Control: no-store` on every /graphql response (private data; what Apollo's cache-control plugin sent). */
const noStore: ApolloServerPlugin<AppContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        if (!response.http.headers.has('cache-control')) response.http.headers.set('cache-control', 'no-store');
      },
    };
  },
};

/** Where GraphQL is served: HTTP (Apollo) and WebSocket (graphql-ws) share the path. */
export const GRAPHQL_PATH = '/graphql';

/**
 * Subscriptions run over graphql-ws only. Over HTTP, graphql-js would call the subscription's resolver once without
 * an event, and its null for a non-null field came back as INTERNAL_SERVER_ERROR, logged as a fault.
 */
const subscriptionsOverWebSocket: ApolloServerPlugin<AppContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (operation?.operation !== 'subscription') return;
        throw new GraphQLError(
          `Subscriptions are served over WebSocket only: connect to ${GRAPHQL_PATH} with a graphql-ws client (subprotocol graphql-transport-ws)`,
          { extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } } },
        );
      },
    };
  },
};

export function createApollo(schema: GraphQLSchema, config: Config, log: Logger, extraPlugins: ApolloServerPlugin<AppContext>[]): ApolloServer<AppContext> {
  const guard = protection(config.graphql);
  return new ApolloServer<AppContext>({
    gateway: jitGateway(schema, config.apiStatementTimeoutMs),
    introspection: config.graphql.introspection,
    includeStacktraceInErrorResponses: false,
    // Our own shutdown (cli/serve.ts) drains HTTP first; Apollo's handlers would re-raise the signal and skip it.
    stopOnTerminationSignals: false,
    validationRules: guard.validationRules,
    parseOptions: { maxTokens: MAX_TOKENS },
    // No cache hints here, and Apollo's default cache-control plugin has a willResolveField hook: with it, Apollo wraps
    // every field resolver of the (shared) schema on the first request, which cost ~2 ms of server CPU per page of 50
    // emails and kept graphql-jit from reading plain fields inline. `noStore` keeps the header it used to send.
    plugins: [ApolloServerPluginCacheControlDisabled(), noStore, subscriptionsOverWebSocket, ...(guard.plugins as ApolloServerPlugin<AppContext>[]), ...extraPlugins],
    formatError: (formatted, error) => formatGraphQLError(formatted, error, log),
  });
}
