// Login (DESIGN.md "The limiter", docs/architecture.md "Account protection"). A browser with a
// valid device cookie for the email is trusted: only its own `login-failure-device` budget
// applies. Any other attempt: Peek `login-failure` (ip|email) and `login-failure-ip` (ip), then
// Consume `login-failure-account` (an HMAC of the email); any exhausted → 429 without checking
// the password. Otherwise auth.Authenticate; a failure counts on the device, or on the pair and
// the IP, and answers 401 with one generic message. A success consumes
// `login` for the user: denied → 429 "Trop de connexions", no session; allowed → a new session
// (new id, new CSRF token), stats.RecordLogin (best effort).
import type { auth, limiter } from '@etu/proto';
import type { Ctx } from '../context';
import type { Wiring } from '../deps';
import { formatDuration } from '../lib/format';
import { callOpts, grpcCode, grpcProblem, Status } from '../lib/grpc';
import { accountSubject, deviceOf, trustDevice } from '../lib/device-cookie';
import { POLICY, type PolicyName } from '../lib/limits';
import { HttpProblem, tooMany } from '../lib/problem';
import type { SessionUser } from '../lib/session';
import { sessionUser } from '../lib/users';
import type { View } from '../lib/views';
import { record } from './record';

const GENERIC_LOGIN_FAILURE = 'Adresse e-mail ou mot de passe incorrect.';

/** Logs `email` in from `ip`; on success the request's session holds the user (saved). */
export async function logIn(
  w: Wiring,
  ctx: Ctx,
  input: { email: string; password: string; ip: string },
  form: () => View,
): Promise<SessionUser> {
  const { quota } = w;
  const { email, password, ip } = input;
  const pair = `${ip}|${email}`;
  const { SESSION_KEYS: keys, COOKIE_SECURE: cookieMode } = w.config;

  // 1. A browser that logged into this account before (a valid device cookie) is trusted while
  //    its own failure budget lasts; any other attempt goes through the brute-force budgets.
  const device = deviceOf(ctx, keys, cookieMode, email);
  const deviceBudget = device && (await quota.peek(ctx, POLICY.failureDevice, device.nonce));
  const trusted = device !== undefined && (deviceBudget === undefined || deviceBudget.allowed);
  const account = accountSubject(keys, email);
  if (!trusted) {
    const [perPair, perIp] = await Promise.all([quota.peek(ctx, POLICY.failure, pair), quota.peek(ctx, POLICY.failureIp, ip)]);
    const blocked = [perPair, perIp].filter((d): d is limiter.Decision => !!d && !d.allowed);
    if (blocked.length > 0) {
      w.metrics.login('bruteforce_refused');
      w.metrics.bruteforceRefused('login');
      const waitMs = Math.max(...blocked.map((d) => d.retryAfterMs));
      ctx.state.log.warn({ policies: blocked.map((d) => d.policy) }, 'login refused: too many failures');
      throw tooMany(
        waitMs,
        'trop_de_tentatives',
        'Trop de tentatives de connexion',
        'Trop de tentatives de connexion échouées : pour protéger les comptes, la connexion est suspendue un moment.',
        { view: form() },
      );
    }
    // Counted before the password check, so that concurrent guesses cannot overshoot the budget.
    const perAccount = await quota.consume(ctx, POLICY.failureAccount, account);
    if (perAccount && !perAccount.allowed) {
      w.metrics.login('account_refused');
      ctx.state.log.warn({ policy: perAccount.policy }, 'login refused: budget of unknown browsers spent for this account');
      throw tooMany(
        perAccount.retryAfterMs,
        'compte_protege',
        'Trop de tentatives sur ce compte',
        'Trop de tentatives de connexion sur ce compte depuis des appareils inconnus : pour le protéger, la connexion depuis un nouvel appareil est suspendue. Depuis un appareil où vous vous êtes déjà connecté·e, vous pouvez vous connecter normalement.',
        { view: form() },
      );
    }
  }

  // 2. The credentials.
  let user: auth.User;
  try {
    const res = await w.clients.auth.authenticate({ email, password }, callOpts(ctx));
    if (!res.user) throw new Error('auth answered without a user');
    user = res.user;
  } catch (err) {
    const code = grpcCode(err);
    if (code === Status.UNAUTHENTICATED || code === Status.INVALID_ARGUMENT) {
      // An untrusted attempt is on the account's budget already; a trusted one counts on its device only.
      const counts: [PolicyName, string][] = trusted
        ? [[POLICY.failureDevice, device.nonce]]
        : [
            [POLICY.failure, pair],
            [POLICY.failureIp, ip],
          ];
      await quota.countAll(ctx, 'a failed login', counts);
      w.metrics.login('bad_credentials');
      ctx.state.log.info({ trusted }, 'login failed');
      throw new HttpProblem(401, 'identifiants_invalides', GENERIC_LOGIN_FAILURE, { title: 'Connexion refusée', view: form() });
    }
    throw grpcProblem(ctx.state.log, 'auth', err);
  }

  // 3. and 4. The login quota of this user, then the session.
  const who = await openSession(w, ctx, user, email, form);
  quota.resetLater(ctx, POLICY.failure, pair);
  // The password is proven: the failures of unknown browsers before it no longer matter.
  if (!trusted) quota.resetLater(ctx, POLICY.failureAccount, account);
  return who;
}

/**
 * Opens a session for `user`, whose password was just proven (the login form, or the sign-up
 * form: its automatic login is a login like any other, docs/architecture.md "Sign-up"): one
 * `login` of the user's quota (denied → 429 "Trop de connexions", no session), a new session
 * (new id, new CSRF token) written before answering, this browser trusted for `email` (as typed,
 * lower-cased: the device cookie's key), stats.RecordLogin.
 */
export async function openSession(w: Wiring, ctx: Ctx, user: auth.User, email: string, form: () => View): Promise<SessionUser> {
  const { SESSION_KEYS: keys, COOKIE_SECURE: cookieMode } = w.config;
  const d = await w.quota.consume(ctx, POLICY.login, user.id);
  if (d && !d.allowed) {
    w.metrics.login('quota_refused');
    ctx.state.log.info({ userId: user.id }, 'login refused: login quota');
    throw tooMany(
      d.retryAfterMs,
      'trop_de_connexions',
      'Trop de connexions',
      `Vous vous êtes connecté·e ${d.limit} fois en ${formatDuration(d.windowMs)} : c'est le maximum.`,
      { view: form() },
    );
  }
  const who = sessionUser(user);
  ctx.state.session.regenerate(who);
  await ctx.state.session.save();
  trustDevice(ctx, keys, cookieMode, email);
  await record(w, ctx, 'RecordLogin', (eventId, timeoutMs) =>
    w.clients.stats.recordLogin({ eventId, userId: user.id }, { timeoutMs, ...callOpts(ctx) }),
  );
  w.metrics.login('success');
  ctx.state.log.info({ userId: user.id }, 'login');
  return who;
}
