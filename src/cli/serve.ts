import { loadConfig } from '../config/load.js';
import { parseCommand, usage } from './common.js';
import { SERVE_HELP } from './help.js';
import type { Io } from './main.js';

/** `imggate serve`: runs until SIGTERM/SIGINT; the server's modules load only for this command. */
export async function runServe(args: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    config: { type: 'string', short: 'c' },
    listen: { type: 'string' },
    concurrency: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    io.stdout.write(SERVE_HELP);
    return 0;
  }
  if (positionals.length) throw usage('serve takes no arguments');
  const { startServer, jsonLogger } = await import('../server/index.js');
  const { config, file } = await loadConfig(values.config, io.env);
  const log = jsonLogger(io.stdout);
  const server = await startServer({ config, configFile: file, env: io.env, flags: { listen: values.listen, concurrency: values.concurrency }, log });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info('signal received', { signal });
  await server.shutdown();
  return 0;
}
