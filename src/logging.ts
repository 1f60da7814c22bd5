/** Structured JSON logs (pino). Credentials are redacted wherever they could appear. */
import { pino, type LoggerOptions } from 'pino';
import type { Config } from './config.js';
import type { Logger } from './shared/logger.js';

export const REDACT_PATHS = [
  'req.headers["x-api-secret"]',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.apiSecret',
  '*.secret',
  'password',
  'secret',
];

/** Options shared by the standalone logger and Fastify's request logger. */
export function loggerOptions(config: Pick<Config, 'logLevel'>): LoggerOptions {
  return {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'incoming' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

export function createLogger(config: Pick<Config, 'logLevel'>): Logger & pino.Logger {
  return pino(loggerOptions(config));
}
