// The account (issue 19, item 5): « Mot de passe oublié » (a link by e-mail), « Mon compte » with
// « Supprimer mon compte » (RGPD), and the « Mentions légales et données personnelles » page.
// docs/architecture.md, "Account: password reset and deletion", has the attacker's view.
import { Router } from '@koa/router';
import { auth as authProto } from '@etu/proto';
import type { Ctx, GatewayState } from '../context';
import type { Wiring } from '../deps';
import { accountSubject, secureCookies } from '../lib/device-cookie';
import { formatDuration } from '../lib/format';
import { formCsrf } from '../lib/form-token';
import { clientIp, field, queryParam } from '../lib/forms';
import { callOpts, grpcCode, grpcProblem, Status, userMessage } from '../lib/grpc';
import { POLICY } from '../lib/limits';
import { HttpProblem, tooMany } from '../lib/problem';
import { flash, requireUser, seeOther, type View } from '../lib/views';
import { removePhotoFiles } from '../lib/photo-files';
import { endUserSessions } from '../middleware/session';

const MAX_EMAIL = 254;
/** The one answer to a reset request, whether the address has an account or not. */
export const RESET_SENT =
  'Si un compte existe avec cette adresse, un e-mail vient de lui être envoyé avec un lien pour choisir un nouveau mot de passe. Le lien est valable 30 minutes et ne sert qu’une fois.';
const RESET_INVALID = 'Ce lien n’est plus valable (déjà utilisé, expiré ou remplacé par un plus récent) : demandez-en un nouveau.';

export function accountRouter(w: Wiring): Router<GatewayState> {
  const router = new Router<GatewayState>();
  const csrf = (ctx: Ctx) => formCsrf(ctx, w.config.SESSION_KEYS, secureCookies(ctx, w.config.COOKIE_SECURE));
  const forgotPage = (ctx: Ctx, data: Record<string, unknown> = {}): View => ({
    name: 'mot-de-passe-oublie.njk',
    data: { email: '', ...data, csrf: csrf(ctx) },
  });
  const newPasswordPage = (ctx: Ctx, token: string, data: Record<string, unknown> = {}): View => ({
    name: 'mot-de-passe-nouveau.njk',
    data: { jeton: token, valid: true, ...data, csrf: csrf(ctx) },
  });
  /**
   * The reset page's URL holds the token: with `strict-origin` a Referer sent from it, to any site
   * (ours included), carries the origin only. (`no-referrer` would also make the browser send
   * `Origin: null` with the form, which the same-origin check rightly refuses.)
   */
  const noReferrer = (ctx: Ctx) => ctx.set('Referrer-Policy', 'strict-origin');

  router.get('/mot-de-passe-oublie', (ctx) => {
    const page = forgotPage(ctx);
    w.views.respond(ctx, 200, page.name, page.data, () => ({ csrfToken: page.data.csrf ?? null }));
  });

  // The same answer, at the same moment, whatever the address: the account is looked up and the
  // mail sent by the mail queue after this answer. Budgets: per client (a 429 that says so) and
  // per address (silently: no mail past it, so nobody's mailbox can be flooded, and the answer
  // tells nothing about the address).
  router.post('/mot-de-passe-oublie', async (ctx) => {
    const email = field(ctx, 'email').trim().toLowerCase();
    if (!email || email.length > MAX_EMAIL || !email.includes('@')) {
      throw new HttpProblem(400, 'email_invalide', 'Indiquez l’adresse e-mail de votre compte, par exemple prenom.nom@univ.fr.', {
        title: 'Mot de passe oublié',
        view: forgotPage(ctx, { email }),
      });
    }
    const perClient = await w.quota.consume(ctx, POLICY.resetIp, clientIp(ctx));
    if (perClient && !perClient.allowed) {
      throw tooMany(
        perClient.retryAfterMs,
        'trop_de_demandes',
        'Trop de demandes',
        `Trop de demandes de réinitialisation depuis votre connexion. Réessayez dans ${formatDuration(perClient.retryAfterMs)}.`,
        { view: forgotPage(ctx, { email }) },
      );
    }
    const perAddress = await w.quota.consume(ctx, POLICY.resetAccount, accountSubject(w.config.SESSION_KEYS, email));
    if (perAddress && !perAddress.allowed) {
      ctx.state.log.warn({ policy: perAddress.policy }, 'password reset not mailed: budget of this address spent');
    } else {
      w.mail.enqueue('mot_de_passe', async () => {
        const { token, user } = await w.clients.auth.startPasswordReset({ email });
        if (!token || !user) return undefined;
        return resetMail(w.config.PUBLIC_ORIGIN, user, token);
      });
    }
    flash(ctx, { kind: 'info', text: RESET_SENT });
    seeOther(ctx, '/mot-de-passe-oublie', { message: RESET_SENT });
  });

  router.get('/mot-de-passe/nouveau', async (ctx) => {
    noReferrer(ctx);
    const token = queryParam(ctx, 'jeton').slice(0, 64);
    const valid = token !== '' && (await checkToken(w, ctx, token));
    const page = newPasswordPage(ctx, valid ? token : '', { valid, invalidMessage: RESET_INVALID });
    w.views.respond(ctx, valid ? 200 : 410, page.name, page.data, () => ({ valide: valid, csrfToken: page.data.csrf ?? null }));
  });

  router.post('/mot-de-passe/nouveau', async (ctx) => {
    noReferrer(ctx);
    const token = field(ctx, 'jeton').slice(0, 64);
    const password = field(ctx, 'password');
    if (!password) {
      throw new HttpProblem(400, 'champs_manquants', 'Choisissez un nouveau mot de passe.', {
        title: 'Nouveau mot de passe',
        view: newPasswordPage(ctx, token),
      });
    }
    let user: authProto.User | undefined;
    try {
      user = (await w.clients.auth.resetPassword({ token, password }, callOpts(ctx))).user;
    } catch (err) {
      const code = grpcCode(err);
      if (code === Status.FAILED_PRECONDITION) {
        throw new HttpProblem(410, 'lien_invalide', RESET_INVALID, {
          title: 'Lien expiré',
          view: newPasswordPage(ctx, '', { valid: false, invalidMessage: RESET_INVALID }),
        });
      }
      if (code === Status.INVALID_ARGUMENT) {
        throw new HttpProblem(400, 'champ_invalide', userMessage(err, 'Ce mot de passe ne convient pas.'), {
          title: 'Nouveau mot de passe',
          view: newPasswordPage(ctx, token),
        });
      }
      throw grpcProblem(ctx.state.log, 'auth', err);
    }
    if (!user) throw new Error('auth answered without a user');
    // Whoever knew the old password is logged out everywhere, this browser included.
    const ended = await endUserSessions(w.sessionRedis, user.id);
    ctx.state.session.destroy();
    await ctx.state.session.save();
    ctx.state.log.info({ userId: user.id, sessionsEnded: ended }, 'password reset: sessions ended');
    const text = 'Votre mot de passe est changé et vos sessions ouvertes sont fermées : connectez-vous avec le nouveau.';
    flash(ctx, { kind: 'succes', text });
    seeOther(ctx, '/login', { message: text });
  });

  router.get('/compte', (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    w.views.respond(ctx, 200, 'compte.njk', { me: user }, () => ({
      prenom: user.firstName,
      nom: user.lastName,
      email: user.email,
      csrfToken: ctx.state.session.csrf,
    }));
  });

  // RGPD: confirmed with the password. Order: the password; the unsold listings withdrawn; the
  // statistics anonymised; the account erased (last: until then the user can log in and retry);
  // every session ended. A step that fails answers 503 and leaves the account in place.
  router.post('/compte/supprimer', async (ctx) => {
    const user = requireUser(ctx);
    if (!user) return;
    const page = (): View => ({ name: 'compte.njk', data: { me: user } });
    const password = field(ctx, 'password');
    if (!password) {
      throw new HttpProblem(400, 'champs_manquants', 'Saisissez votre mot de passe pour confirmer.', { title: 'Mon compte', view: page() });
    }
    const pair = `${clientIp(ctx)}|${user.email}`;
    const budget = await w.quota.peek(ctx, POLICY.failure, pair);
    if (budget && !budget.allowed) {
      throw tooMany(
        budget.retryAfterMs,
        'trop_de_tentatives',
        'Trop de tentatives',
        `Trop de mots de passe erronés. Réessayez dans ${formatDuration(budget.retryAfterMs)}.`,
      );
    }
    try {
      await w.clients.auth.authenticate({ email: user.email, password }, callOpts(ctx));
    } catch (err) {
      const code = grpcCode(err);
      if (code === Status.UNAUTHENTICATED || code === Status.INVALID_ARGUMENT) {
        await w.quota.countAll(ctx, 'a wrong password on account deletion', [[POLICY.failure, pair]]);
        throw new HttpProblem(403, 'mot_de_passe_incorrect', 'Mot de passe incorrect : votre compte n’a pas été supprimé.', {
          title: 'Mon compte',
          view: page(),
        });
      }
      throw grpcProblem(ctx.state.log, 'auth', err);
    }
    const step = async <T>(dependency: string, call: () => Promise<T>): Promise<T> => {
      try {
        return await call();
      } catch (err) {
        throw grpcProblem(ctx.state.log, dependency, err);
      }
    };
    const { withdrawn, unusedPhotos } = await step('market', () =>
      w.clients.market.withdrawListings({ sellerId: user.id, listingId: '' }, callOpts(ctx)),
    );
    // Their photos' files go with them (a file another listing shares is not in the list).
    await removePhotoFiles(w, ctx, unusedPhotos);
    // What this gateway still holds for the statistics (summed refusals, queued records) reaches
    // them before the id goes.
    await Promise.all([w.denials.flush(), w.statsBatch?.flush()]);
    await step('stats', () => w.clients.stats.forgetUser({ userId: user.id }, callOpts(ctx)));
    await step('auth', () => w.clients.auth.deleteAccount({ id: user.id }, callOpts(ctx)));
    const ended = await endUserSessions(w.sessionRedis, user.id);
    ctx.state.session.destroy();
    await ctx.state.session.save();
    ctx.state.log.info({ userId: user.id, withdrawn, sessionsEnded: ended }, 'account deleted');
    const text = 'Votre compte est supprimé : vos données personnelles sont effacées et vos articles non vendus retirés.';
    flash(ctx, { kind: 'succes', text });
    seeOther(ctx, '/', { message: text });
  });

  router.get('/mentions-legales', (ctx) => {
    w.views.respond(ctx, 200, 'mentions-legales.njk', {}, () => ({ page: 'mentions-legales' }));
  });

  return router;
}

/** Whether a reset token can still be used; auth down → 503. */
async function checkToken(w: Wiring, ctx: Ctx, token: string): Promise<boolean> {
  try {
    return (await w.clients.auth.checkPasswordReset({ token }, callOpts(ctx))).valid;
  } catch (err) {
    throw grpcProblem(ctx.state.log, 'auth', err);
  }
}

/** The reset mail: the link to the site's own origin (PUBLIC_ORIGIN, never the request's Host). */
export function resetMail(origin: string, user: authProto.User, token: string) {
  const link = `${origin}/mot-de-passe/nouveau?jeton=${encodeURIComponent(token)}`;
  return {
    to: user.email,
    subject: 'Choisir un nouveau mot de passe EtuServices',
    text: [
      `Bonjour ${user.firstName},`,
      '',
      'Vous avez demandé à choisir un nouveau mot de passe pour votre compte EtuServices.',
      'Ouvrez ce lien dans les 30 minutes (il ne sert qu’une fois) :',
      '',
      link,
      '',
      'Si vous n’avez rien demandé, ignorez ce message : votre mot de passe ne change pas.',
      '',
      '— EtuServices',
    ].join('\n'),
  };
}
