import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort, runOk } from './process.js';

export interface TestRegistry {
  /** `127.0.0.1:PORT`, usable as a registry host in image references. */
  readonly host: string;
  readonly dir: string;
  /**
   * Kills the registry (SIGKILL: what it had queued in memory, notifications among them, is lost) and
   * starts it again on the same port and storage.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'htpasswd'; users: Record<string, string> }
  | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };

const BINARY = process.env['IMGGATE_TEST_REGISTRY'] ?? 'docker-registry';

/** Where the registry sends its notifications (distribution's `notifications.endpoints`). */
export interface NotificationEndpoint {
  readonly url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token: string;
}

/**
 * The `notifications:` section the tests give the real registry; docker-compose.yml carries the same
 * settings. Blob events are left out at the source (application/octet-stream) to save deliveries; the
 * gate ignores blob, pull and mount events on its own as well.
 */
export function notificationsYaml(endpoint: NotificationEndpoint): string {
  return [
    'notifications:',
    '  events:',
    '    includereferences: true',
    '  endpoints:',
    '    - name: imggate',
    `      url: ${endpoint.url}`,
    '      headers:',
    `        Authorization: [Bearer ${endpoint.token}]`,
    '      timeout: 5s',
    '      threshold: 3',
    '      backoff: 1s',
    '      ignoredmediatypes:',
    '        - application/octet-stream',
    '',
  ].join('\n');
}

/**
 * Starts the CNCF distribution registry (Debian's docker-registry) on a free loopback port, its
 * storage in a new directory under `parent` (default the system's temporary directory).
 */
export async function startRegistry(
  auth: RegistryAuth = { kind: 'none' },
  options: { notifications?: NotificationEndpoint; port?: number; parent?: string } = {},
): Promise<TestRegistry> {
  const dir = await mkdtemp(path.join(options.parent ?? os.tmpdir(), 'imggate-registry-'));
  const port = options.port ?? (await freePort());
  let authYaml = '';
  if (auth.kind === 'htpasswd') {
    const lines: string[] = [];
    for (const [user, password] of Object.entries(auth.users)) {
      lines.push((await runOk('htpasswd', ['-Bbn', user, password])).trim());
    }
    await writeFile(path.join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
    authYaml = `auth:\n  htpasswd:\n    realm: imggate-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
  } else if (auth.kind === 'token') {
    authYaml = `auth:\n  token:\n    realm: ${auth.realm}\n    service: ${auth.service}\n    issuer: ${auth.issuer}\n    rootcertbundle: ${auth.rootCertBundle}\n`;
  }
  const config = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    authYaml,
    options.notifications ? notificationsYaml(options.notifications) : '',
  ].join('\n');
  const configFile = path.join(dir, 'config.yml');
  await writeFile(configFile, config);
  const host = `127.0.0.1:${port}`;
  let child = await spawnRegistry(configFile, host);
  const exited = (c: ChildProcess) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(undefined) : c.once('exit', r)));
  return {
    host,
    dir,
    async restart() {
      child.kill('SIGKILL');
      await exited(child);
      child = await spawnRegistry(configFile, host);
    },
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts the registry binary on `configFile` and waits until `host` answers /v2/. */
async function spawnRegistry(configFile: string, host: string): Promise<ChildProcess> {
  const child: ChildProcess = spawn(BINARY, ['serve', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`registry exited: ${stderr}`);
    const up = await new Promise<boolean>((resolve) => {
      http.get(`http://${host}/v2/`, (res) => {
        res.resume();
        resolve(true);
      }).on('error', () => resolve(false));
    });
    if (up) return child;
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`registry did not come up on ${host}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
