import { randomBytes } from 'node:crypto';
import { chown, chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { run } from './process.js';

/** CI sets this (.ci/run): a missing PostgreSQL is then a failure, not a skipped suite. */
export const REQUIRE_POSTGRES = process.env['IMGGATE_REQUIRE_POSTGRES'] === '1';

/** A throwaway PostgreSQL cluster on 127.0.0.1, in a temporary directory. */
export interface TestPostgres {
  readonly port: number;
  readonly dataDir: string;
  /** `postgres://imggate:<password>@127.0.0.1:<port>/<database>`. */
  url(database?: string): string;
  readonly password: string;
  /** A new, empty database; its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast shutdown); `start` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and deletes the cluster. */
  destroy(): Promise<void>;
}

/** The newest PostgreSQL server binaries, as Debian installs them (/usr/lib/postgresql/<major>/bin). */
export async function postgresBinDir(): Promise<string | undefined> {
  const root = '/usr/lib/postgresql';
  let majors: string[];
  try {
    majors = await readdir(root);
  } catch {
    return undefined;
  }
  const usable = majors
    .filter((m) => /^\d+(\.\d+)?$/.test(m) && ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(path.join(root, m, 'bin', b))))
    .sort((a, b) => Number(b) - Number(a));
  return usable[0] === undefined ? undefined : path.join(root, usable[0], 'bin');
}

/**
 * Starts a cluster for a suite, or skips the suite (with the reason) when PostgreSQL is not
 * installed; under IMGGATE_REQUIRE_POSTGRES a missing PostgreSQL fails instead.
 */
export async function postgresOrSkip(ctx: Mocha.Context): Promise<TestPostgres> {
  const bin = await postgresBinDir();
  if (!bin) {
    if (REQUIRE_POSTGRES) throw new Error('IMGGATE_REQUIRE_POSTGRES=1 but no PostgreSQL server in /usr/lib/postgresql/*/bin (apt-get install postgresql)');
    ctx.skip();
  }
  return startPostgres(bin);
}

/** initdb and postgres refuse to run as root: as root they run as the `postgres` system user. */
async function asServerUser(cmd: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args);
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Starts a cluster on a free port. Without `durable` it runs with fsync off (tests want speed, not a
 * crash-safe disk); the bench asks for `durable` so its commits cost what a deployment's do.
 */
export async function startPostgres(bin: string, options: { durable?: boolean } = {}): Promise<TestPostgres> {
  // As root the server runs as `postgres`, which must reach the data directory: the run's own TMPDIR
  // may be root's alone (0700), /tmp never is. The cluster is deleted by destroy() either way.
  const dir = await mkdtemp(path.join(process.getuid?.() === 0 ? '/tmp' : os.tmpdir(), 'imggate-pg-'));
  const dataDir = path.join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  const pwfile = path.join(dir, 'pw');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (process.getuid?.() === 0) {
    const { uid, gid } = await serverUser();
    await chown(dir, uid, gid);
    await chown(pwfile, uid, gid);
  }
  await chmod(dir, 0o700);
  const init = await asServerUser(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'imggate', `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync']);
  if (init.code !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  }
  let port = 0;
  const pgCtl = path.join(bin, 'pg_ctl');
  const log = path.join(dir, 'server.log');
  const startOn = async (p: number): Promise<boolean> => {
    const settings = `-c listen_addresses=127.0.0.1 -p ${p} -c unix_socket_directories='' -c fsync=${options.durable ? 'on' : 'off'} -c max_connections=200`;
    const r = await asServerUser(pgCtl, ['start', '-w', '-t', '60', '-D', dataDir, '-l', log, '-o', settings]);
    return r.code === 0;
  };
  // Another suite or process may take a port between the probe and the bind: the next one is tried.
  for (let candidate = 55432 + Math.floor(Math.random() * 68), tries = 0; tries < 68; tries++, candidate = 55432 + ((candidate - 55432 + 1) % 68)) {
    if (!(await portIsFree(candidate))) continue;
    if (await startOn(candidate)) {
      port = candidate;
      break;
    }
  }
  if (port === 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error('no PostgreSQL could be started on a free port in 55432-55499');
  }
  const url = (database = 'postgres'): string => `postgres://imggate:${password}@127.0.0.1:${port}/${database}`;
  let databases = 0;
  const stop = async (): Promise<void> => {
    await asServerUser(pgCtl, ['stop', '-w', '-m', 'fast', '-D', dataDir]);
  };
  return {
    port,
    dataDir,
    password,
    url,
    async createDatabase() {
      const name = `t${process.pid}_${++databases}`;
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop,
    async start() {
      if (!(await startOn(port))) throw new Error(`PostgreSQL did not start again on ${port}`);
    },
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function serverUser(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  if (uid.code !== 0) throw new Error('running as root and there is no `postgres` user to run PostgreSQL as');
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
