// A tiny cookie-keeping HTTP client for the gateway tests (supertest agent underneath): reads
// the CSRF token from the last page, posts forms with it, can pose as another client IP.
import { CookieAccessInfo } from 'cookiejar';
import request from 'supertest';
import type { Server } from 'node:http';

export type Agent = ReturnType<typeof request.agent>;

export function csrfFrom(html: string): string | undefined {
  return /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
}

export class WebClient {
  readonly agent: Agent;
  /** Token read from the last page that had a form. */
  token: string | undefined;

  constructor(
    readonly server: Server,
    /** Sent as X-Forwarded-For (only believed when the app trusts a proxy). */
    public ip?: string,
  ) {
    this.agent = request.agent(server);
  }

  private withIp<T extends request.Test>(t: T): T {
    return this.ip ? t.set('X-Forwarded-For', this.ip) : t;
  }

  async get(path: string, accept = 'text/html') {
    const res = await this.withIp(this.agent.get(path).set('Accept', accept));
    const t = typeof res.text === 'string' ? csrfFrom(res.text) : undefined;
    if (t) this.token = t;
    return res;
  }

  /** Posts a form with the session's CSRF token (read from `tokenFrom` first when given). */
  async post(path: string, fields: Record<string, string>, opts: { tokenFrom?: string; accept?: string; csrf?: string | null } = {}) {
    if (opts.tokenFrom) await this.get(opts.tokenFrom);
    const body: Record<string, string> = { ...fields };
    const csrf = opts.csrf === undefined ? this.token : opts.csrf;
    if (csrf !== null && csrf !== undefined) body._csrf = csrf;
    const res = await this.withIp(
      this.agent
        .post(path)
        .type('form')
        .set('Accept', opts.accept ?? 'text/html')
        .send(body),
    );
    const t = typeof res.text === 'string' ? csrfFrom(res.text) : undefined;
    if (t) this.token = t;
    return res;
  }

  async login(email: string, password: string) {
    return this.post('/login', { email, password }, { tokenFrom: '/login' });
  }

  /** Takes over another client's cookies (the same session, seen through another gateway). */
  adopt(other: WebClient): this {
    const jarOf = (c: WebClient) =>
      (
        c.agent as unknown as {
          jar: { getCookies(a: unknown): { name: string; value: string }[]; setCookies(c: string[], d: string, p: string): void };
        }
      ).jar;
    const cookies = jarOf(other).getCookies(new CookieAccessInfo('127.0.0.1', '/', false, false));
    jarOf(this).setCookies(
      cookies.map((c) => `${c.name}=${c.value}; Path=/`),
      '127.0.0.1',
      '/',
    );
    this.token = other.token;
    return this;
  }

  /** The value of a cookie this client holds. */
  cookie(name: string): string | undefined {
    const jar = (this.agent as unknown as { jar: { getCookie(name: string, access: unknown): { value: string } | undefined } }).jar;
    return jar.getCookie(name, new CookieAccessInfo('127.0.0.1', '/', false, false))?.value;
  }
}

/** The text of a page without tags, for "what the user reads" assertions. */
export function textOf(html: string): string {
  return html
    .replace(/<script[\s\S]*?<\/script>/g, '')
    .replace(/<[^<>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}
