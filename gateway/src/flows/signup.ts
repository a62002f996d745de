// Sign-up. A taken email answers 409, which tells the visitor that an account exists: the
// trade-off is documented in README.md; each 409 counts as a failure of the visitor's IP
// (login-failure-ip), so enumeration through this form is throttled like password guessing.
// Each address has a sign-up budget (`signup-ip`, docs/architecture.md "Account protection"),
// and auth's "busy" answer (bounded hashing) becomes a 503 "réessayez dans un instant".
import type { auth } from '@etu/proto';
import type { Ctx } from '../context';
import type { Wiring } from '../deps';
import { fieldOfMessage } from '../lib/forms';
import { callOpts, grpcCode, grpcProblem, Status, userMessage } from '../lib/grpc';
import { POLICY } from '../lib/limits';
import { HttpProblem, tooMany } from '../lib/problem';
import type { View } from '../lib/views';
import { record } from './record';

/** The sign-up form's labels, as auth's messages start (lib/grpc.ts), and their fields. */
export const SIGNUP_LABELS = { Nom: 'nom', Prénom: 'prenom', 'Adresse e-mail': 'email', 'Mot de passe': 'password' } as const;

export interface SignUpInput {
  lastName: string;
  firstName: string;
  email: string;
  password: string;
  ip: string;
}

/** Creates the account; refusals re-show `form`. */
export async function signUp(w: Wiring, ctx: Ctx, input: SignUpInput, form: () => View): Promise<auth.User> {
  const { quota } = w;
  const perIp = await quota.peek(ctx, POLICY.failureIp, input.ip);
  if (perIp && !perIp.allowed) {
    w.metrics.bruteforceRefused('signup');
    throw tooMany(
      perIp.retryAfterMs,
      'trop_de_tentatives',
      'Trop de tentatives',
      'Trop de tentatives depuis votre connexion : les inscriptions en sont suspendues un moment.',
      { view: form() },
    );
  }
  // Every sign-up that reaches auth costs a password hash: counted per address before it does.
  const signups = await quota.consume(ctx, POLICY.signupIp, input.ip);
  if (signups && !signups.allowed) {
    ctx.state.log.warn({ policy: signups.policy }, 'sign-up refused: too many from this address');
    throw tooMany(
      signups.retryAfterMs,
      'trop_d_inscriptions',
      "Trop d'inscriptions",
      "Trop d'inscriptions depuis votre connexion : les inscriptions en sont suspendues un moment.",
      { view: form() },
    );
  }
  let user: auth.User;
  try {
    const res = await w.clients.auth.register(
      { lastName: input.lastName, firstName: input.firstName, email: input.email, password: input.password },
      callOpts(ctx),
    );
    if (!res.user) throw new Error('auth answered without a user');
    user = res.user;
  } catch (err) {
    const code = grpcCode(err);
    if (code === Status.ALREADY_EXISTS) {
      await quota.countAll(ctx, 'a taken-email sign-up', [[POLICY.failureIp, input.ip]]);
      throw new HttpProblem(
        409,
        'email_indisponible',
        'Impossible de créer un compte avec cette adresse e-mail. Si vous avez déjà un compte, connectez-vous.',
        {
          title: 'Inscription',
          view: form(),
          fields: { email: 'Impossible de créer un compte avec cette adresse e-mail.' },
        },
      );
    }
    if (code === Status.INVALID_ARGUMENT) {
      const message = userMessage(err, 'Un des champs est invalide.');
      throw new HttpProblem(400, 'champ_invalide', message, {
        title: 'Inscription',
        view: form(),
        fields: fieldOfMessage(message, SIGNUP_LABELS),
      });
    }
    throw grpcProblem(ctx.state.log, 'auth', err);
  }
  await record(w, ctx, 'RegisterUser', (_eventId, timeoutMs) =>
    w.clients.stats.registerUser({ userId: user.id }, { timeoutMs, ...callOpts(ctx) }),
  );
  ctx.state.log.info({ userId: user.id }, 'sign-up');
  return user;
}
