// Connexion, inscription, déconnexion: the forms, then flows/login.ts and flows/signup.ts.
import { Router } from '@koa/router';
import { codePoints, PASSWORD_MAX, PASSWORD_MIN, passwordResemblesIdentity, unreadableNameReason } from '@etu/common';
import type { Ctx, GatewayState } from '../context';
import type { Wiring } from '../deps';
import { logIn, openSession } from '../flows/login';
import { SIGNUP_LABELS, signUp } from '../flows/signup';
import { clientIp, field, fieldOfMessage, hiddenCharacterMistake, queryParam } from '../lib/forms';
import { HttpProblem } from '../lib/problem';
import { secureCookies } from '../lib/device-cookie';
import { formCsrf } from '../lib/form-token';
import { afterLogin, returnPath, withReturn } from '../lib/return-path';
import { sessionUser, userJson } from '../lib/users';
import { flash, seeOther, type View } from '../lib/views';

const MAX_EMAIL = 254;

export function authRouter(w: Wiring): Router<GatewayState> {
  const router = new Router<GatewayState>();
  // A visitor's forms carry a stateless token (lib/form-token.ts): showing them stores nothing.
  // While the session store is down a form cannot be sent (no token: the page says why).
  const csrf = (ctx: Ctx) => formCsrf(ctx, w.config.SESSION_KEYS, secureCookies(ctx, w.config.COOKIE_SECURE));
  /** A visitor's form would log in into a store that cannot take the session: say so before. */
  const checkStore = async (ctx: Ctx): Promise<void> => {
    const session = ctx.state.session;
    if (!session.storeDown && !session.exists && !(await w.sessionStore.available())) session.markStoreDown();
  };
  /**
   * The page to come back to (lib/return-path.ts): the page's `retour` parameter, then its form's
   * hidden field; a value of another shape is dropped here, so no page carries it further.
   */
  const retour = (ctx: Ctx): string | undefined => returnPath(ctx.method === 'POST' ? field(ctx, 'retour') : queryParam(ctx, 'retour'));
  // Each form keeps `retour`, and its link to the other form (and the header's) carries it.
  const loginPage = (ctx: Ctx, data: Record<string, unknown> = {}): View => ({
    name: 'login.njk',
    data: { email: '', ...data, retour: retour(ctx), signupHref: withReturn('/inscription', retour(ctx)), csrf: csrf(ctx) },
  });
  const signupPage = (ctx: Ctx, data: Record<string, unknown> = {}): View => ({
    name: 'inscription.njk',
    data: {
      form: { nom: '', prenom: '', email: '' },
      ...data,
      retour: retour(ctx),
      loginHref: withReturn('/login', retour(ctx)),
      csrf: csrf(ctx),
    },
  });

  router.get('/login', async (ctx) => {
    if (ctx.state.session.user) {
      seeOther(ctx, afterLogin(queryParam(ctx, 'retour')));
      return;
    }
    await checkStore(ctx);
    const page = loginPage(ctx);
    w.views.respond(ctx, 200, page.name, page.data, () => formJson(ctx, page));
  });

  router.post('/login', async (ctx) => {
    const email = field(ctx, 'email').trim().toLowerCase();
    const password = field(ctx, 'password');
    if (!email || !password || email.length > MAX_EMAIL) {
      const fields: Record<string, string> = {};
      if (!email) fields.email = 'Indiquez votre adresse e-mail.';
      else if (email.length > MAX_EMAIL) fields.email = `${MAX_EMAIL} caractères au maximum.`;
      if (!password) fields.password = 'Indiquez votre mot de passe.';
      throw new HttpProblem(400, 'champs_manquants', 'Indiquez votre adresse e-mail et votre mot de passe.', {
        title: 'Connexion',
        view: loginPage(ctx, { email }),
        fields,
      });
    }
    const user = await logIn(w, ctx, { email, password, ip: clientIp(ctx) }, () => loginPage(ctx, { email }));
    seeOther(ctx, afterLogin(field(ctx, 'retour')), { user: userJson(user), csrfToken: ctx.state.session.csrf });
  });

  router.get('/inscription', async (ctx) => {
    if (ctx.state.session.user) {
      seeOther(ctx, afterLogin(queryParam(ctx, 'retour')));
      return;
    }
    await checkStore(ctx);
    const page = signupPage(ctx);
    w.views.respond(ctx, 200, page.name, page.data, () => formJson(ctx, page));
  });

  router.post('/inscription', async (ctx) => {
    const form = { nom: field(ctx, 'nom').trim(), prenom: field(ctx, 'prenom').trim(), email: field(ctx, 'email').trim() };
    const password = field(ctx, 'password');
    if (!form.nom || !form.prenom || !form.email || !password) {
      const missing: [string, boolean, string][] = [
        ['prenom', !form.prenom, 'Indiquez votre prénom.'],
        ['nom', !form.nom, 'Indiquez votre nom.'],
        ['email', !form.email, 'Indiquez votre adresse e-mail.'],
        ['password', !password, 'Choisissez un mot de passe.'],
      ];
      throw new HttpProblem(400, 'champs_manquants', 'Tous les champs sont obligatoires.', {
        title: 'Inscription',
        view: signupPage(ctx, { form }),
        fields: Object.fromEntries(missing.filter(([, empty]) => empty).map(([name, , message]) => [name, message])),
      });
    }
    // auth decides; the gateway mirrors two of its rules to answer without a round trip.
    const mistake = formMistake(form, password);
    if (mistake) {
      throw new HttpProblem(400, 'champ_invalide', mistake, {
        title: 'Inscription',
        view: signupPage(ctx, { form }),
        fields: fieldOfMessage(mistake, SIGNUP_LABELS),
      });
    }
    const input = { lastName: form.nom, firstName: form.prenom, email: form.email, password, ip: clientIp(ctx) };
    const user = await signUp(w, ctx, input, () => signupPage(ctx, { form }));
    // Logged in directly: the sign-up's login is one of the user's 10 logins and is recorded in
    // the statistics like any other (docs/architecture.md, "Sign-up logs in"). Should it fail
    // (the limiter or the session store down), the account exists: the user logs in later.
    let who;
    try {
      who = await openSession(w, ctx, user, form.email.toLowerCase(), () => loginPage(ctx, { email: form.email }));
    } catch (err) {
      ctx.state.log.warn({ userId: user.id, err: err instanceof Error ? err.name : 'error' }, 'sign-up: automatic login failed');
      flash(ctx, { kind: 'succes', text: `Bienvenue ${user.firstName} ! Votre compte est créé : connectez-vous.` });
      seeOther(ctx, withReturn('/login', retour(ctx)), { user: userJson(sessionUser(user)), connecte: false });
      return;
    }
    flash(ctx, { kind: 'succes', text: `Bienvenue ${user.firstName} ! Votre compte est créé et vous êtes connecté·e.` });
    seeOther(ctx, afterLogin(field(ctx, 'retour')), { user: userJson(who), connecte: true, csrfToken: ctx.state.session.csrf });
  });

  router.post('/logout', async (ctx) => {
    const had = ctx.state.session.user;
    ctx.state.session.destroy();
    await ctx.state.session.save();
    if (had) ctx.state.log.info({ userId: had.id }, 'logout');
    flash(ctx, { kind: 'info', text: 'Vous êtes déconnecté·e.' });
    seeOther(ctx, '/');
  });

  return router;
}

/** A form's JSON answer: the CSRF token to send back, or null (and why) while sessions are down. */
function formJson(ctx: Ctx, page: View): Record<string, unknown> {
  const session = ctx.state.session;
  return session.storeDown ? { csrfToken: null, connexionIndisponible: true } : { csrfToken: page.data.csrf };
}

/** The sign-up form's mistakes the gateway can see by itself, worded as auth words them. */
function formMistake(form: { nom: string; prenom: string; email: string }, password: string): string | undefined {
  // In auth's order: the last name, then the first name; invisible characters, then no letter.
  const names = [
    [form.nom, 'Nom', 'le nom'],
    [form.prenom, 'Prénom', 'le prénom'],
  ] as const;
  for (const name of names) {
    const hidden = hiddenCharacterMistake([name]);
    if (hidden) return hidden;
    const [value, label, what] = name;
    const unreadable = unreadableNameReason(value, what);
    if (unreadable) return `${label} : ${unreadable}`;
  }
  // auth checks the length first: a password of a wrong length is left to its message.
  const pw = password.normalize('NFC');
  const n = codePoints(pw);
  if (n < PASSWORD_MIN || n > PASSWORD_MAX) return undefined;
  const resembles = passwordResemblesIdentity(pw, { email: form.email, firstName: form.prenom, lastName: form.nom });
  return resembles && `Mot de passe : ${resembles}`;
}
