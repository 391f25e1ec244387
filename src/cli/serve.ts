import { loadConfig } from '../config/load.js';
import { parseCommand, usage } from './common.js';
import type { Io } from './main.js';

export const SERVE_HELP = `Usage: imggate serve [options]

Runs the gate as a service: registry webhooks (/hooks/<receiver>) and the API (/v1) queue checks in
the embedded store; worker processes run them, sign the verdicts and push them next to the images.
Configured by imggate.yaml's serve: section; environment and flags override it.

Options:
  -c, --config FILE       imggate.yaml (default $IMGGATE_CONFIG, then ~/.config/imggate/imggate.yaml)
      --listen HOST:PORT  where to listen ($IMGGATE_SERVE_LISTEN; default 127.0.0.1:8080)
      --concurrency N     checks at once ($IMGGATE_SERVE_CONCURRENCY; default 2)
  -h, --help

SIGTERM or SIGINT: stop taking jobs, let running checks finish (serve.drainTimeout), release the rest, exit 0.
`;

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
