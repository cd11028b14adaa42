/** Structured JSON logs (pino); every request and job line carries its request id. */
import pino, { type Logger } from 'pino';

export function createLogger(level: string, name = 'parley'): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Personal data never reaches the logs, even by accident in an error object.
    redact: [
      '*.authorEmail',
      '*.author_email',
      '*.email',
      '*.ip',
      'req.headers.authorization',
      'req.headers.cookie',
    ],
  });
}

export type { Logger };
