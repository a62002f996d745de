// One `service` call of the logged-in user (Vente, Achat, and whatever comes next): Consume
// first; denied → 429 with Retry-After, RateLimit-Policy and RateLimit, stats DENIED (a denial
// answered from the refusal cache, without asking the limiter, is summed into one statistics
// record per user, service and minute: flows/denials.ts); admitted
// → the market call, stats ALLOWED. A market refusal (bad input, already sold, own item,
// unknown item) is shown with its status on the page `page` gives, and the call it cost stays
// counted: the limiter counts calls, not successes (README.md).
// A call that may repeat one already done (a retried Achat, a Vente form sent twice) is named by
// a key (`replay.key`: the form's key, the listing): the first call with a key claims it
// (lib/call-claims.ts) and goes on; a call whose key was claimed before waits while that first
// call is in flight (a double click), then asks the market, with `replay.done`, whether it is
// done: then its answer is the first one's, with no quota call and no statistic, since the user
// made one call.
import { randomUUID } from 'node:crypto';
import { stats } from '@etu/proto';
import type { Ctx } from '../context';
import type { Wiring } from '../deps';
import { formatDuration } from '../lib/format';
import { fieldOfMessage } from '../lib/forms';
import { callOpts, describeGrpcError, grpcCode, grpcProblem, Status, userMessage } from '../lib/grpc';
import { POLICY, rateLimitHeaders } from '../lib/limits';
import { HttpProblem, tooMany } from '../lib/problem';
import type { SessionUser } from '../lib/session';
import type { View } from '../lib/views';
import { record } from './record';

/** The market's refusals, in the user's words; anything else is not a refusal. */
function marketRefusal(err: unknown): { status: number; code: string; message: string } | undefined {
  switch (grpcCode(err)) {
    case Status.INVALID_ARGUMENT:
      return { status: 400, code: 'champ_invalide', message: userMessage(err, 'Un des champs est invalide.') };
    case Status.FAILED_PRECONDITION:
      return { status: 409, code: 'impossible', message: userMessage(err, "Cet article n'est plus disponible.") };
    case Status.PERMISSION_DENIED:
      return {
        status: 403,
        code: 'interdit',
        message: userMessage(err, "Cette action n'est possible que pour la personne qui vend l'article."),
      };
    case Status.NOT_FOUND:
      return { status: 404, code: 'article_introuvable', message: "Cet article n'existe pas." };
    default:
      return undefined;
  }
}

/**
 * A market refusal or failure, as the user sees it (a refusal is shown on `page`, beside the
 * field its message names: `labels` maps the form's labels to its fields).
 */
async function marketProblem(
  ctx: Ctx,
  err: unknown,
  page: () => Promise<View | undefined>,
  labels: Readonly<Record<string, string>>,
): Promise<unknown> {
  const refusal = marketRefusal(err);
  if (!refusal) return grpcProblem(ctx.state.log, 'market', err);
  ctx.state.log.info({ err: describeGrpcError(err) }, 'market refused the call');
  return new HttpProblem(refusal.status, refusal.code, refusal.message, {
    title: 'Action impossible',
    view: await page(),
    fields: fieldOfMessage(refusal.message, labels),
  });
}

/** How a call that may repeat one already done is recognised. */
export interface Replay<T> {
  /** Names the call among the user's calls of its kind (a sale form's key, a listing id). */
  key: string;
  /** The first call's answer when it is done (asked of the market), else undefined. */
  done: () => Promise<T | undefined>;
}

export interface ServiceCallOptions {
  /** The form's labels and their fields: a refusal whose message starts with one is shown beside it. */
  labels?: Readonly<Record<string, string>>;
  /** The page a quota refusal (429) is shown on, holding what the user typed (else the plain error page). */
  keepForm?: () => Promise<View | undefined>;
}

/**
 * Runs `call` (a market call) as one `service` call of `user`; the RateLimit headers are set on
 * the answer. `page` is the page a refusal is shown on (`undefined`: the plain error page).
 * `replay`, when given: the first call with its key goes on; another waits while the first is in
 * flight, then asks `replay.done`, a result meaning the call was already done (its answer is
 * returned, nothing is counted).
 */
export async function serviceCall<T>(
  w: Wiring,
  ctx: Ctx,
  user: SessionUser,
  kind: stats.ServiceKind,
  call: () => Promise<T>,
  page: () => Promise<View | undefined>,
  replay?: Replay<T>,
  opts: ServiceCallOptions = {},
): Promise<T> {
  const { labels = {} } = opts;
  const kindName = stats.ServiceKind[kind];
  const service = kindName.replace('SERVICE_KIND_', '').toLowerCase();
  const claim = replay && (await w.claims.begin(user.id, kindName, replay.key));
  if (claim?.waited) w.metrics.replayWait(service);
  const claimed = replay !== undefined && claim?.state === 'first';
  if (claimed) w.metrics.replayCheck(service, 'first');
  if (replay && !claimed) {
    let done: T | undefined;
    try {
      done = await replay.done();
    } catch (err) {
      throw await marketProblem(ctx, err, page, labels);
    }
    w.metrics.replayCheck(service, done === undefined ? 'not_done' : 'done');
    if (done !== undefined) {
      ctx.state.log.info({ userId: user.id, service: kindName }, 'service call already done: answered again, not counted');
      return done;
    }
  }
  let result: T;
  try {
    result = await countedCall(w, ctx, user, kind, call, page, opts);
  } catch (err) {
    // Refused (quota, market), so not done: the next try with this key is a new call again. A
    // failure whose outcome is unknown (a deadline, a dependency down) settles the claim, so the
    // next try asks the market whether it was done.
    if (claimed && err instanceof HttpProblem && err.status < 500) void w.claims.release(user.id, kindName, replay.key);
    else if (claimed) void w.claims.settle(user.id, kindName, replay.key);
    throw err;
  }
  // Done: a call with this key waiting for this one now asks the market, and is answered again.
  if (claimed) void w.claims.settle(user.id, kindName, replay.key);
  return result;
}

/** The quota, the call and its statistic (serviceCall, after the replay check). */
async function countedCall<T>(
  w: Wiring,
  ctx: Ctx,
  user: SessionUser,
  kind: stats.ServiceKind,
  call: () => Promise<T>,
  page: () => Promise<View | undefined>,
  { labels = {}, keepForm }: ServiceCallOptions,
): Promise<T> {
  // Queued for the next batch (flows/stats-batch.ts), or with STATS_BATCH=off sent now and awaited.
  const batch = w.statsBatch;
  const recordOutcome = async (outcome: stats.Outcome) => {
    if (batch) batch.add({ eventId: randomUUID(), userId: user.id, service: kind, outcome }, callOpts(ctx).context);
    else
      await record(w, ctx, 'RecordServiceCall', (eventId, timeoutMs) =>
        w.clients.stats.recordServiceCall({ eventId, userId: user.id, service: kind, outcome }, { timeoutMs, ...callOpts(ctx) }),
      );
  };

  // `service` is never Reset, so its denials may be remembered (quota.ts, lib/refusal-cache.ts).
  const d = await w.quota.consume(ctx, POLICY.service, user.id, { remember: true });
  if (d) {
    // (no decision: the limiter is down and LIMITER_FAIL_MODE=open, admitted unchecked)
    const headers = rateLimitHeaders(d);
    if (!d.allowed) {
      if (d.fromCache) w.denials.add(user.id, kind);
      else await recordOutcome(stats.Outcome.OUTCOME_DENIED);
      ctx.state.log.info(
        { userId: user.id, service: stats.ServiceKind[kind], cached: d.fromCache === true },
        'service call refused: quota',
      );
      // The refused form comes back as the user filled it in, with when to send it again.
      const view = keepForm ? await keepForm() : undefined;
      throw tooMany(
        d.retryAfterMs,
        'quota_atteint',
        "Plus d'action disponible pour le moment",
        `Vous avez utilisé vos ${d.limit} actions (ventes et achats) autorisées sur ${formatDuration(d.windowMs)} : rien n'a été envoyé.${view ? ' Ce que vous avez saisi est gardé ci-dessous.' : ''}`,
        { headers, view },
      );
    }
    for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
  }

  let result: T;
  try {
    result = await call();
  } catch (err) {
    await recordOutcome(stats.Outcome.OUTCOME_ALLOWED);
    throw await marketProblem(ctx, err, page, labels);
  }
  await recordOutcome(stats.Outcome.OUTCOME_ALLOWED);
  return result;
}
