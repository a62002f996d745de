/** Connection settings parsed from a `mysql://user:password@host:port/database` URL. */
export interface DbSettings {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export function parseDatabaseUrl(url: string): DbSettings {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('DATABASE_URL is not a valid URL (expected mysql://user:password@host:3306/database)');
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') {
    throw new Error('DATABASE_URL must start with mysql:// or mariadb://');
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!/^\w{1,64}$/.test(database)) {
    throw new Error('DATABASE_URL must name a database made of letters, digits and _ (e.g. /etuservices)');
  }
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
    database,
  };
}

/** The same URL pointing at another database (used by tests and by database creation). */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
