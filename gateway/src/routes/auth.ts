// Connexion, inscription, déconnexion.
//
// Login (DESIGN.md "The limiter"): Peek `login-failure` (ip|email) and `login-failure-ip` (ip);
// either exhausted → 429 without checking the password. Otherwise auth.Authenticate; a failure
// consumes both failure policies and answers 401 with one generic message. A success consumes
// `login` for the user: denied → 429 "Trop de connexions", no session; allowed → a new session
// (new id, new CSRF token), stats.RecordLogin (best effort), 303 /services.
import { Router } from '@koa/router';
import { auth, limiter } from '@etu/proto';
import type { Ctx, GatewayState, Kit } from '../kit';
import { formatDuration, retryAfterSeconds } from '../lib/format';
import { clientIp, field } from '../lib/forms';
import { describeGrpcError, grpcCode, isUnavailable, Status, userMessage } from '../lib/grpc';
import { HttpProblem, unavailable } from '../lib/problem';
import { roleName, type SessionUser } from '../middleware/session';

export const POLICY = {
  login: 'login',
  failure: 'login-failure',
  failureIp: 'login-failure-ip',
  service: 'service',
} as const;

const GENERIC_LOGIN_FAILURE = 'Email ou mot de passe incorrect.';
const MAX_EMAIL = 254;

export function sessionUser(u: auth.User): SessionUser {
  return { id: u.id, firstName: u.firstName, lastName: u.lastName, email: u.email, role: roleName(u.role) };
}

export function authRouter(kit: Kit): Router<GatewayState> {
  const router = new Router<GatewayState>();
  const { clients } = kit;

  const loginPage = (ctx: Ctx, data: Record<string, unknown> = {}) => ({ name: 'login.njk', data: { email: '', ...data, csrf: ctx.state.session.ensure().csrf } });

  router.get('/login', (ctx) => {
    if (ctx.state.session.user) return kit.seeOther(ctx, '/services');
    const page = loginPage(ctx);
    kit.respond(ctx, 200, page.name, page.data, () => ({ csrfToken: ctx.state.session.csrf }));
  });

  router.post('/login', async (ctx) => {
    const email = field(ctx, 'email').trim().toLowerCase();
    const password = field(ctx, 'password');
    if (!email || !password || email.length > MAX_EMAIL) {
      throw new HttpProblem(400, 'champs_manquants', 'Indiquez votre adresse email et votre mot de passe.', {
        title: 'Connexion',
        view: loginPage(ctx, { email }),
      });
    }
    const ip = clientIp(ctx);
    const pair = `${ip}|${email}`;

    // 1. Brute force: refuse before any password check once a failure policy is exhausted.
    const [perPair, perIp] = await Promise.all([
      kit.limit(ctx, 'peek login-failure', () => clients.limiter.peek(POLICY.failure, pair)),
      kit.limit(ctx, 'peek login-failure-ip', () => clients.limiter.peek(POLICY.failureIp, ip)),
    ]);
    const blocked = [perPair, perIp].filter((d): d is limiter.Decision => !!d && !d.allowed);
    if (blocked.length > 0) {
      kit.count('login_bruteforce_refused');
      const waitMs = Math.max(...blocked.map((d) => d.retryAfterMs));
      ctx.state.log.warn({ policies: blocked.map((d) => d.policy) }, 'login refused: too many failures');
      throw tooMany(ctx, waitMs, 'trop_de_tentatives', 'Trop de tentatives de connexion', `Trop de tentatives de connexion échouées. Réessayez dans ${formatDuration(waitMs)}.`);
    }

    // 2. The credentials.
    let user: auth.User;
    try {
      const res = await clients.auth.authenticate({ email, password });
      if (!res.user) throw new Error('auth answered without a user');
      user = res.user;
    } catch (err) {
      const code = grpcCode(err);
      if (code === Status.UNAUTHENTICATED || code === Status.INVALID_ARGUMENT) {
        const consumed = await Promise.allSettled([clients.limiter.consume(POLICY.failure, pair), clients.limiter.consume(POLICY.failureIp, ip)]);
        for (const r of consumed) {
          if (r.status === 'rejected') ctx.state.log.error({ err: describeGrpcError(r.reason) }, 'could not count a failed login');
        }
        ctx.state.log.info('login failed');
        throw new HttpProblem(401, 'identifiants_invalides', GENERIC_LOGIN_FAILURE, { title: 'Connexion refusée', view: loginPage(ctx, { email }) });
      }
      if (isUnavailable(err)) {
        ctx.state.log.error({ err: describeGrpcError(err) }, 'auth unavailable');
        throw unavailable('auth');
      }
      throw err;
    }

    // 3. The login quota of this user.
    const d = await kit.limit(ctx, 'consume login', () => clients.limiter.consume(POLICY.login, user.id));
    if (d && !d.allowed) {
      kit.count('login_quota_refused');
      ctx.state.log.info({ userId: user.id }, 'login refused: login quota');
      throw tooMany(
        ctx,
        d.retryAfterMs,
        'trop_de_connexions',
        'Trop de connexions',
        `Vous vous êtes connecté ${d.limit} fois en ${formatDuration(d.windowMs)}. Vous pourrez vous reconnecter dans ${formatDuration(d.retryAfterMs)}.`,
      );
    }

    // 4. A new session (new id, new CSRF token), written before answering.
    ctx.state.session.regenerate(sessionUser(user));
    await ctx.state.session.save();
    clients.limiter.reset(POLICY.failure, pair).catch((err: unknown) => ctx.state.log.warn({ err: describeGrpcError(err) }, 'could not reset login failures'));
    await kit.record(ctx, 'RecordLogin', (eventId, timeoutMs) => clients.stats.recordLogin({ eventId, userId: user.id }, { timeoutMs }));
    ctx.state.log.info({ userId: user.id }, 'login');
    kit.seeOther(ctx, '/services', { user: userJson(sessionUser(user)), csrfToken: ctx.state.session.csrf });
  });

  const signupPage = (ctx: Ctx, data: Record<string, unknown> = {}) => ({
    name: 'inscription.njk',
    data: { form: { nom: '', prenom: '', email: '' }, ...data, csrf: ctx.state.session.ensure().csrf },
  });

  router.get('/inscription', (ctx) => {
    if (ctx.state.session.user) return kit.seeOther(ctx, '/services');
    const page = signupPage(ctx);
    kit.respond(ctx, 200, page.name, page.data, () => ({ csrfToken: ctx.state.session.csrf }));
  });

  // Sign-up. A taken email answers 409, which tells the visitor that an account exists: the
  // trade-off is documented in README.md; each 409 counts as a failure of the visitor's IP
  // (login-failure-ip), so enumeration through this form is throttled like password guessing.
  router.post('/inscription', async (ctx) => {
    const form = { nom: field(ctx, 'nom').trim(), prenom: field(ctx, 'prenom').trim(), email: field(ctx, 'email').trim() };
    const password = field(ctx, 'password');
    if (!form.nom || !form.prenom || !form.email || !password) {
      throw new HttpProblem(400, 'champs_manquants', 'Tous les champs sont obligatoires.', { title: 'Inscription', view: signupPage(ctx, { form }) });
    }
    const ip = clientIp(ctx);
    const perIp = await kit.limit(ctx, 'peek login-failure-ip', () => clients.limiter.peek(POLICY.failureIp, ip));
    if (perIp && !perIp.allowed) {
      kit.count('login_bruteforce_refused');
      throw tooMany(ctx, perIp.retryAfterMs, 'trop_de_tentatives', 'Trop de tentatives', `Trop de tentatives depuis votre connexion. Réessayez dans ${formatDuration(perIp.retryAfterMs)}.`);
    }
    let user: auth.User;
    try {
      const res = await clients.auth.register({ lastName: form.nom, firstName: form.prenom, email: form.email, password });
      if (!res.user) throw new Error('auth answered without a user');
      user = res.user;
    } catch (err) {
      const code = grpcCode(err);
      if (code === Status.ALREADY_EXISTS) {
        await clients.limiter.consume(POLICY.failureIp, ip).catch((e: unknown) => ctx.state.log.error({ err: describeGrpcError(e) }, 'could not count a taken-email sign-up'));
        throw new HttpProblem(409, 'email_indisponible', "Impossible de créer un compte avec cette adresse email. Si vous avez déjà un compte, connectez-vous.", {
          title: 'Inscription',
          view: signupPage(ctx, { form }),
        });
      }
      if (code === Status.INVALID_ARGUMENT) {
        throw new HttpProblem(400, 'champ_invalide', userMessage(err, 'Un des champs est invalide.'), { title: 'Inscription', view: signupPage(ctx, { form }) });
      }
      if (isUnavailable(err)) {
        ctx.state.log.error({ err: describeGrpcError(err) }, 'auth unavailable');
        throw unavailable('auth');
      }
      throw err;
    }
    await kit.record(ctx, 'RegisterUser', (_eventId, timeoutMs) => clients.stats.registerUser({ userId: user.id }, { timeoutMs }));
    ctx.state.log.info({ userId: user.id }, 'sign-up');
    kit.flash(ctx, { kind: 'succes', text: `Bienvenue ${user.firstName} ! Votre compte est créé : connectez-vous.` });
    kit.seeOther(ctx, '/login', { user: userJson(sessionUser(user)) });
  });

  router.post('/logout', async (ctx) => {
    const had = ctx.state.session.user;
    ctx.state.session.destroy();
    await ctx.state.session.save();
    if (had) ctx.state.log.info({ userId: had.id }, 'logout');
    kit.flash(ctx, { kind: 'info', text: 'Vous êtes déconnecté.' });
    kit.seeOther(ctx, '/');
  });

  return router;
}

export function userJson(u: SessionUser) {
  return { id: u.id, prenom: u.firstName, nom: u.lastName, email: u.email, role: u.role === 'ADMIN' ? 'admin' : 'etudiant' };
}

/** A 429: Retry-After in whole seconds, the wait in words, and the page to show. */
export function tooMany(
  _ctx: Ctx,
  waitMs: number,
  code: string,
  title: string,
  message: string,
  view?: { name: string; data: Record<string, unknown> },
  headers: Record<string, string> = {},
): HttpProblem {
  const seconds = retryAfterSeconds(waitMs);
  return new HttpProblem(429, code, message, {
    title,
    headers: { 'Retry-After': String(seconds), ...headers },
    details: { retryAfterSeconds: seconds, attente: formatDuration(waitMs) },
    view,
  });
}
