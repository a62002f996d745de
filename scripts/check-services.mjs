// Checks that MariaDB/MySQL and Redis answer where the configuration points, and says exactly
// how to start or install them when they do not.
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';

// TESTCONTAINERS=1 (make test): the suite starts its own stores in containers (jest globalSetup,
// testkit/src/containers.ts), so there is nothing local to probe.
if (process.env.TESTCONTAINERS === '1') {
  console.log('check-services: TESTCONTAINERS=1, the tests take MariaDB and Redis from containers');
  process.exit(0);
}

// Local defaults: parts.json, the one list of the parts and of the stores a local run uses.
const { localStores: local } = JSON.parse(readFileSync(new URL('../parts.json', import.meta.url), 'utf8'));
const dbUrl = new URL(process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? local.DATABASE_URL);
const redisUrls = [
  process.env.LIMITER_REDIS_URL ?? process.env.TEST_REDIS_URL ?? local.LIMITER_REDIS_URL,
  process.env.STATS_REDIS_URL ?? local.STATS_REDIS_URL,
  process.env.SESSION_REDIS_URL ?? local.SESSION_REDIS_URL,
  // a Redis Cluster (redis+cluster://[auth@]h1:p1,h2:p2): its first node answers for it here
].map((u) => new URL(firstClusterNode(u)));

/** redis+cluster://[auth@]h1:p1,h2:p2 → redis://[auth@]h1:p1 (any other URL unchanged). */
function firstClusterNode(url) {
  const m = /^(rediss?)\+cluster:\/\/(.*)$/.exec(url);
  if (!m) return url;
  const at = m[2].lastIndexOf('@');
  const nodes = m[2].slice(at + 1).split('/')[0];
  return `${m[1]}://${m[2].slice(0, at + 1)}${nodes.split(',')[0]}`;
}

function probe(host, port, hello, expect) {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    let buf = '';
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => hello && sock.write(hello));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (expect(buf)) done(true);
    });
  });
}

const problems = [];
const dbHost = dbUrl.hostname || '127.0.0.1';
const dbPort = Number(dbUrl.port || 3306);
// A MySQL server speaks first (its handshake packet).
if (!(await probe(dbHost, dbPort, null, (b) => b.length > 4))) {
  problems.push(
    `MariaDB/MySQL does not answer on ${dbHost}:${dbPort}.\n` +
      '    start it:   start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd\n' +
      '    install it: apt-get install -y mariadb-server   (Debian)\n' +
      '    or:         docker compose -f deploy/compose.yaml up -d mariadb redis',
  );
}
const seen = new Set();
for (const u of redisUrls) {
  const key = `${u.hostname}:${u.port || 6379}`;
  if (seen.has(key)) continue;
  seen.add(key);
  if (!(await probe(u.hostname || '127.0.0.1', Number(u.port || 6379), 'PING\r\n', (b) => b.includes('\r\n')))) {
    problems.push(
      `Redis does not answer on ${key}.\n` +
        '    start it:   redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no\n' +
        '    install it: apt-get install -y redis-server redis-tools   (Debian)\n' +
        '    or:         docker compose -f deploy/compose.yaml up -d mariadb redis',
    );
  }
}
if (problems.length) {
  console.error(`EtuServices needs MariaDB (or MySQL 8) and Redis:\n  - ${problems.join('\n  - ')}`);
  process.exit(1);
}
