/**
 * Structured JSON log lines. Callers pass named fields only (event id, receiver, digest, job, status):
 * the logger never receives a request, a body, a header or a token, so it cannot print one.
 */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export function jsonLogger(out: NodeJS.WritableStream = process.stderr, now: () => Date = () => new Date()): Logger {
  const write = (level: string, msg: string, fields: LogFields = {}): void => {
    out.write(`${JSON.stringify({ time: now().toISOString(), level, msg, ...fields })}\n`);
  };
  return {
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
