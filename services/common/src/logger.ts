import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths that must never reach a log line, whatever object is logged. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'passwordHash',
  '*.passwordHash',
  'hash',
  '*.hash',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'cookie',
  '*.cookie',
  'sessionId',
  '*.sessionId',
  'session',
  'INTERNAL_TOKEN',
  'SESSION_KEYS',
  '*.INTERNAL_TOKEN',
  '*.SESSION_KEYS',
  'csrf',
  '*.csrf',
  '_csrf',
  '*._csrf',
];

export function createLogger(name: string, level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { part: name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
