// The search (SearchListings) on 100,000 listings: how long the market takes to answer the
// searches a student makes, through gRPC, with the migration's indexes and, for comparison,
// without its B-tree indexes (the FULLTEXT index is kept: word search cannot run without it).
//
//   node bench/search.mjs                 (after make build; ~2-4 minutes, most of it seeding)
//   BENCH_SEARCH_ROWS=20000 node bench/search.mjs
//
// Its own database (`etu_bench_search`, dropped and migrated afresh) on BENCH_MYSQL_URL (default
// mysql://root@127.0.0.1:3306); a market server of its own in this process, on a free port. Writes
// bench/results/search-<date>-<commit>.md and prints the table. No figure here is asserted.
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { require } from './lib/project.mjs';
import { ROOT } from './lib/util.mjs';

const ROWS = Number(process.env.BENCH_SEARCH_ROWS ?? 100_000);
const RUNS = Number(process.env.BENCH_SEARCH_RUNS ?? 30);
const SERVER = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const DB_NAME = 'etu_bench_search';
const TOKEN = 'bench-search-token-0123456789abcdef';

const db = require(join(ROOT, 'prisma/dist/index.js'));
const { startMarketServer } = require(join(ROOT, 'services/market/dist/index.js'));
const { createServiceClient } = require(join(ROOT, 'services/common/dist/index.js'));
const { market } = require(join(ROOT, 'proto/dist/src/index.js'));
const search = require(join(ROOT, 'services/market/dist/search.js'));
const mariadb = require('mariadb');
const pino = require('pino');

const url = db.withDatabase(SERVER, DB_NAME);
const conf = db.parseDatabaseUrl(url);

// Titles and descriptions as students write them (accents, capitals, short words), combined at
// random so that words have realistic frequencies: common ones (« livre », « état ») in most
// rows, rare ones (« évolution », « kassovitz ») in few.
const SUBJECTS = [
  'Analyse',
  'Algèbre linéaire',
  'Probabilités',
  'Droit constitutionnel',
  'Économie',
  'Chimie organique',
  'Physique quantique',
  'Biologie cellulaire',
  'Histoire moderne',
  'Philosophie',
  'Sociologie',
  'Informatique',
  'Statistiques',
  'Mécanique',
  'Thermodynamique',
  'Génétique',
  'Littérature comparée',
  'Anglais B2',
  'Espagnol',
  'Marketing',
  'Comptabilité',
  'Gestion',
  'Psychologie',
  'Géographie',
];
const KINDS = ['Manuel', 'Cours', 'Exercices corrigés', 'Annales', 'Fiches', 'Précis', 'Polycopié', 'Livre', 'Mémento', 'Guide'];
const LEVELS = ['L1', 'L2', 'L3', 'M1', 'M2', 'BTS', 'prépa', 'DUT'];
const FILMS = [
  'Amélie',
  'Intouchables',
  'La Haine',
  'Le Seigneur des anneaux',
  'Astérix',
  'Les Choristes',
  'Taxi',
  'OSS 117',
  'Le Dîner de cons',
];
const OBJECTS = [
  'Calculatrice Casio Graph 35+E',
  'Lampe de bureau LED',
  'Blouse de TP',
  'Chaise de bureau',
  'Cafetière',
  'Vélo de ville',
  'Clé USB 64 Go',
  'Casque audio',
  'Sac à dos',
  'Bouilloire',
  'Micro-ondes',
  'Étagère',
  'Tapis de yoga',
  'Écran 24 pouces',
];
const STATES = [
  'Très bon état',
  'Bon état',
  'Comme neuf',
  'Quelques annotations au crayon',
  'Couverture abîmée',
  'Jamais servi',
  'État correct',
];
const PLACES = [
  'Remise en main propre sur le campus',
  'À récupérer à la BU',
  'Envoi possible',
  'Disponible le soir',
  'Résidence universitaire',
];
const RARE = ['Évolution des espèces', 'Kassovitz', 'édition collector', 'Saint-Exupéry', 'Cormen'];

function rng(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}
const rand = rng(19);
const pick = (a) => a[Math.floor(rand() * a.length)];

function listingRow(i, sellers, now) {
  const r = rand();
  let title, category;
  if (r < 0.6) {
    title = `${pick(KINDS)} ${pick(SUBJECTS)} ${pick(LEVELS)}`;
    category = 'BOOK';
  } else if (r < 0.8) {
    title = `${pick(FILMS)} (DVD)`;
    category = 'DVD';
  } else {
    title = pick(OBJECTS);
    category = 'OTHER';
  }
  let description = `${pick(STATES)}. ${pick(PLACES)}.`;
  if (rand() < 0.002) description += ` ${pick(RARE)}.`;
  const price = 100 + Math.floor(rand() * rand() * 20_000);
  const created = new Date(now - Math.floor(rand() * 365 * 86_400_000));
  const sold = rand() < 0.1;
  return [
    sellers[i % sellers.length],
    title,
    category,
    price,
    description,
    sold ? 'vendu' : 'disponible',
    sold ? sellers[(i + 1) % sellers.length] : null,
    created,
    sold ? created : null,
  ];
}

async function seed() {
  const admin = await mariadb.createConnection({ host: conf.host, port: conf.port, user: conf.user, password: conf.password });
  try {
    await admin.query(`DROP DATABASE IF EXISTS \`${DB_NAME}\``);
  } finally {
    await admin.end();
  }
  await db.ensureDatabase(url);
  await db.applyMigrations(url);
  const conn = await mariadb.createConnection({
    host: conf.host,
    port: conf.port,
    user: conf.user,
    password: conf.password,
    database: DB_NAME,
  });
  try {
    const users = Array.from({ length: 200 }, (_, i) => [
      `Nom${i}`,
      `Prénom${i}`,
      `bench${i}@etu.example`,
      'x',
      `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    ]);
    await conn.batch('INSERT INTO utilisateurs (nom, prenom, email, mot_de_passe, public_id) VALUES (?, ?, ?, ?, ?)', users);
    const sellers = (await conn.query('SELECT id FROM utilisateurs')).map((u) => u.id);
    const now = Date.now();
    const t0 = performance.now();
    for (let done = 0; done < ROWS; done += 5000) {
      const n = Math.min(5000, ROWS - done);
      const rows = Array.from({ length: n }, (_, k) => listingRow(done + k, sellers, now));
      await conn.batch(
        'INSERT INTO articles (vendeur_id, titre, categorie, prix_centimes, description, statut, acheteur_id, created_at, vendu_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        rows,
      );
    }
    await conn.query('ANALYZE TABLE articles');
    const [{ n }] = await conn.query("SELECT COUNT(*) AS n FROM articles WHERE statut = 'disponible'");
    console.log(`seeded ${ROWS} listings (${n} available) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await conn.end();
  }
}

const q = (over) => ({ query: '', category: 0, condition: 0, minPriceCents: 0, maxPriceCents: 0, sort: 0, page: 1, pageSize: 12, ...over });
const { CATEGORY_BOOK: BOOK, CATEGORY_DVD: DVD } = market.Category;
const { SEARCH_SORT_PRICE_ASC: PRICE_ASC, SEARCH_SORT_PRICE_DESC: PRICE_DESC } = market.SearchSort;

const CASES = [
  ['home page: latest 6', q({ pageSize: 6 })],
  ['browse all, newest, page 1', q({})],
  ['category Livre, newest', q({ category: BOOK })],
  ['category DVD, price ascending', q({ category: DVD, sort: PRICE_ASC })],
  ['price 5–20 €, price descending', q({ minPriceCents: 500, maxPriceCents: 2000, sort: PRICE_DESC })],
  ['browse all, newest, page 200', q({ page: 200 })],
  ['word, common: « manuel »', q({ query: 'manuel' })],
  ['word, rare, accents: « evolution »', q({ query: 'evolution' })],
  ['two words: « analyse l1 »', q({ query: 'analyse l1' })],
  ['words + category + price: « chimie » Livre ≤ 30 €', q({ query: 'chimie', category: BOOK, maxPriceCents: 3000 })],
  ['short word only (LIKE scan): « L2 »', q({ query: 'L2' })],
  ['stopword + word: « la haine »', q({ query: 'la haine' })],
];

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: at(0.5), p95: at(0.95), max: s[s.length - 1] };
}

/** MariaDB's plan for the page query and the count query: the index chosen and its row estimate. */
async function plans(conn, req) {
  const p = search.parseSearch(req);
  const plan = async (sql) => {
    const rows = await conn.query(`EXPLAIN ${sql.sql}`, sql.values);
    return rows.map((r) => `${r.key ?? 'no index'} (${r.type}, ~${r.rows} rows${r.Extra ? `; ${r.Extra}` : ''})`).join(' + ');
  };
  return { page: await plan(search.pageSql(p)), count: await plan(search.countSql(p)) };
}

async function measure(client, label, conn) {
  const out = [];
  for (const [name, req] of CASES) {
    const first = await client.call.searchListings(req); // warm-up, and the result size
    const ms = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      await client.call.searchListings(req);
      ms.push(performance.now() - t);
    }
    out.push({ name, total: first.totalCount, ...stats(ms), plan: await plans(conn, req) });
    console.log(
      `${label.padEnd(16)} ${name.padEnd(52)} total ${String(first.totalCount).padStart(6)}  median ${stats(ms).median.toFixed(1)} ms  p95 ${stats(ms).p95.toFixed(1)} ms`,
    );
  }
  return out;
}

const BTREE = [
  'articles_statut_created_at_id_idx',
  'articles_statut_prix_centimes_id_idx',
  'articles_statut_categorie_created_at_id_idx',
  'articles_statut_categorie_prix_centimes_id_idx',
];

async function main() {
  await seed();
  const log = pino({ level: 'warn' });
  const server = await startMarketServer({ addr: '127.0.0.1:0', log, token: TOKEN, databaseUrl: url });
  const client = createServiceClient(market.MarketServiceClient, `127.0.0.1:${server.port}`, { token: TOKEN, timeoutMs: 30_000 });
  const conn = await mariadb.createConnection({
    host: conf.host,
    port: conf.port,
    user: conf.user,
    password: conf.password,
    database: DB_NAME,
  });
  try {
    const withIdx = await measure(client, 'with indexes', conn);
    for (const i of BTREE) await conn.query(`DROP INDEX \`${i}\` ON articles`);
    await conn.query('CREATE INDEX articles_statut_categorie_idx ON articles (statut, categorie)'); // the index before the migration
    const without = await measure(client, 'before (no new B-tree)', conn);
    const commit = execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim();
    const day = new Date().toISOString().slice(0, 10);
    const lines = [
      `# SearchListings on ${ROWS.toLocaleString('en')} listings — ${day}, commit ${commit}`,
      '',
      `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), shared with other work; MariaDB ${(await conn.query('SELECT VERSION() AS v'))[0].v}.`,
      `Each figure: ${RUNS} sequential gRPC calls after one warm-up, page size 12 (6 for the home page), the market`,
      'in the bench process, time from call to answer (the page ids, the total count, the rows with their users).',
      '"before": the same table without the migration\'s four B-tree indexes (the FULLTEXT index kept, with',
      'the old (statut, categorie) index back).',
      '',
      '| search | matches | median (ms) | p95 (ms) | before: median (ms) | before: p95 (ms) |',
      '|---|---:|---:|---:|---:|---:|',
      ...withIdx.map(
        (r, i) =>
          `| ${r.name} | ${r.total} | ${r.median.toFixed(1)} | ${r.p95.toFixed(1)} | ${without[i].median.toFixed(1)} | ${without[i].p95.toFixed(1)} |`,
      ),
      '',
      `Load average while measuring: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(', ')} (1, 5, 15 min).`,
      '',
      '## Plans (EXPLAIN), with the indexes, then before',
      '',
      '| search | page query | count query | before: page query | before: count query |',
      '|---|---|---|---|---|',
      ...withIdx.map((r, i) => `| ${r.name} | ${r.plan.page} | ${r.plan.count} | ${without[i].plan.page} | ${without[i].plan.count} |`),
      '',
    ];
    const dir = join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `search-${day}-${commit}.md`);
    writeFileSync(file, lines.join('\n'));
    console.log(`\nwritten: ${file}`);
  } finally {
    await conn.end();
    client.close();
    await server.close();
    const admin = await mariadb.createConnection({ host: conf.host, port: conf.port, user: conf.user, password: conf.password });
    await admin.query(`DROP DATABASE IF EXISTS \`${DB_NAME}\``);
    await admin.end();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench/search: failed: ${err.stack ?? err}`);
    process.exit(1);
  },
);
