/** Seed 000 "Authentication". */
import { ValidateKeyDocument } from '../../graphql/generated/operations.js';
import { route } from '../route.js';

export const authRoutes = [
  route({
    method: 'POST',
    path: '/api/auth/validate',
    operation: ValidateKeyDocument,
    variables: () => ({}),
    respond: (d) => ({
      data: {
        valid: d.validateKey.valid,
        key: {
          id: Number(d.validateKey.key.id),
          name: d.validateKey.key.name,
          permissions: d.validateKey.key.permissions,
          rate_limit: {
            requests_per_minute: d.validateKey.key.rateLimit.requestsPerMinute,
            requests_per_hour: d.validateKey.key.rateLimit.requestsPerHour,
          },
        },
      },
    }),
  }),
];
