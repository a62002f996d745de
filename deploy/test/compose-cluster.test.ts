// deploy/compose.cluster.yaml (the Redis Cluster variant) and deploy/redis-cluster.conf: what the
// parts would read from the merged files is a cluster URL their configuration accepts, six nodes
// run the cluster file, the parts wait for the cluster to be formed; the node file itself is
// accepted by a real redis-server. The compose clients' `config` runs where one is installed.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Redis from 'ioredis';
import { parseDocument } from 'yaml';
import { parseRedisUrl } from '../../services/common/src/redis';
import { loadConfig as limiterConfig } from '../../services/limiter/src/config';
import { loadConfig as statsConfig } from '../../services/stats/src/config';
import { loadConfig as gatewayConfig } from '../../gateway/src/config';
import { exited, freePort, startRedisServer } from '@etu/testkit';
import { COMPOSE_FILE, DEPLOY, ENV_EXAMPLE, ROOT, writeSecrets } from './support';

const OVERRIDE = join(DEPLOY, 'compose.cluster.yaml');

interface Svc {
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
}
const override = parseDocument(readFileSync(OVERRIDE, 'utf8'), { merge: true }).toJS({ maxAliasCount: -1 }) as {
  services: Record<string, Svc>;
  volumes: Record<string, unknown>;
};

test('six cluster nodes, each with the cluster file, its own volume and its own announced name', () => {
  const nodes = Object.keys(override.services).filter((n) => n.startsWith('redis-node-'));
  expect(nodes.sort()).toEqual(['redis-node-1', 'redis-node-2', 'redis-node-3', 'redis-node-4', 'redis-node-5', 'redis-node-6']);
  for (const n of nodes) {
    const s = override.services[n]!;
    expect(s.command).toEqual(expect.arrayContaining(['/usr/local/etc/redis/redis-cluster.conf', '--cluster-announce-hostname', n]));
    expect(s.volumes).toContain(`${n}-data:/data`);
    expect(override.volumes).toHaveProperty(`${n}-data`);
  }
  expect(Object.keys(override.services['redis-cluster-init']!.depends_on!).sort()).toEqual(nodes.sort());
});

test('limiter, stats and gateway read the cluster, as their own configuration parses it, after it is formed', () => {
  const urls = {
    limiter: override.services.limiter!.environment!.LIMITER_REDIS_URL!,
    stats: override.services.stats!.environment!.STATS_REDIS_URL!,
    gateway: override.services.gateway!.environment!.SESSION_REDIS_URL!,
  };
  for (const [part, url] of Object.entries(urls)) {
    expect([part, parseRedisUrl(url)]).toEqual([
      part,
      expect.objectContaining({ kind: 'cluster', nodes: expect.arrayContaining([{ host: 'redis-node-1', port: 6379 }]) }),
    ]);
    expect(override.services[part]!.depends_on).toEqual({ 'redis-cluster-init': { condition: 'service_completed_successfully' } });
  }
  expect(limiterConfig({ LIMITER_REDIS_URL: urls.limiter }).LIMITER_REDIS_URL).toBe(urls.limiter);
  expect(statsConfig({ STATS_REDIS_URL: urls.stats }).STATS_REDIS_URL).toBe(urls.stats);
  expect(gatewayConfig({ SESSION_REDIS_URL: urls.gateway }).SESSION_REDIS_URL).toBe(urls.gateway);
});

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
(hasRedisServer ? test : test.skip)(
  'redis-cluster.conf: a real redis-server starts in cluster mode with it (skipped without redis-server)',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'etu-cluster-conf-'));
    const port = await freePort();
    let child: ChildProcess | undefined;
    try {
      child = await startRedisServer(
        [
          join(DEPLOY, 'redis-common.conf'),
          '--include',
          join(DEPLOY, 'redis-cluster.conf'),
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-announce-hostname',
          'redis-node-1',
        ],
        dir,
      );
      const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      try {
        expect(await r.info('cluster')).toMatch(/cluster_enabled:1/);
        const cfg = Object.fromEntries(
          (
            await Promise.all(
              [
                'cluster-node-timeout',
                'cluster-require-full-coverage',
                'cluster-preferred-endpoint-type',
                'appendfsync',
                'maxmemory-policy',
                'min-replicas-to-write',
              ].map((k) => r.config('GET', k) as Promise<string[]>),
            )
          ).map(([k, v]) => [k, v]),
        );
        expect(cfg).toEqual({
          'cluster-node-timeout': '5000',
          'cluster-require-full-coverage': 'no',
          'cluster-preferred-endpoint-type': 'hostname',
          appendfsync: 'always',
          'maxmemory-policy': 'noeviction',
          'min-replicas-to-write': '0',
        });
      } finally {
        r.disconnect();
      }
    } finally {
      if (child && child.exitCode === null) {
        child.kill('SIGKILL');
        await exited(child);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

const clients: Array<{ label: string; cmd: string[] }> = [
  { label: 'docker compose (v2)', cmd: ['docker', 'compose'] },
  { label: 'docker-compose (v1)', cmd: ['docker-compose'] },
];
for (const { label, cmd } of clients) {
  const installed = spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { encoding: 'utf8' }).status === 0;
  (installed ? test : test.skip)(`${label} accepts compose.yaml + compose.cluster.yaml (skipped when not installed)`, () => {
    const secretsDir = writeSecrets();
    try {
      const r = spawnSync(
        cmd[0]!,
        [
          ...cmd.slice(1),
          '-f',
          relative(ROOT, COMPOSE_FILE),
          '-f',
          relative(ROOT, OVERRIDE),
          '--env-file',
          relative(ROOT, ENV_EXAMPLE),
          'config',
          '-q',
        ],
        {
          cwd: ROOT,
          env: { PATH: process.env.PATH, HOME: process.env.HOME, SECRETS_DIR: secretsDir },
          encoding: 'utf8',
        },
      );
      expect([r.status, r.stderr]).toEqual([0, '']);
    } finally {
      rmSync(secretsDir, { recursive: true, force: true });
    }
  });
}
