// Expected failures of a request, in the words shown to the user. Routes throw these; the error
// handler (middleware/errors.ts) renders them as a French page, or as JSON for programs.
import { formatDuration, retryAfterSeconds } from './format';

export interface ProblemOptions {
  /** Page title; defaults to the status's generic title. */
  title?: string;
  /** Response headers (Retry-After, RateLimit...). */
  headers?: Record<string, string>;
  /** Extra fields of the JSON answer (e.g. retryAfterSeconds). */
  details?: Record<string, unknown>;
  /** Renders this view instead of the error page (e.g. the form again, with the message). */
  view?: { name: string; data: Record<string, unknown> };
  /**
   * The form fields in error and what is wrong with each, shown beside the field (the view's
   * inputs name them `aria-describedby="<field>-erreur"`); the message stays as the summary.
   */
  fields?: Record<string, string>;
}

export class HttpProblem extends Error {
  override name = 'HttpProblem';
  readonly expose = true;
  constructor(
    readonly status: number,
    /** Machine-readable code of the JSON answer. */
    readonly code: string,
    /** The French message shown to the user; safe to display. */
    message: string,
    readonly opts: ProblemOptions = {},
  ) {
    super(message);
  }
}

/** Generic French titles and messages per status, for errors that carry none of their own. */
export const STATUS_TEXT: Record<number, { title: string; message: string; code: string }> = {
  400: { code: 'requete_invalide', title: 'Requête invalide', message: 'La requête est incomplète ou mal formée.' },
  401: { code: 'non_authentifie', title: 'Connexion refusée', message: 'Adresse e-mail ou mot de passe incorrect.' },
  403: { code: 'interdit', title: 'Accès refusé', message: "Vous n'avez pas accès à cette page." },
  404: { code: 'introuvable', title: 'Page introuvable', message: "Cette page n'existe pas ou plus." },
  405: { code: 'methode_non_permise', title: 'Action impossible', message: "Cette action n'est pas possible sur cette page." },
  409: { code: 'conflit', title: 'Action impossible', message: "Cette action n'est plus possible." },
  413: { code: 'trop_volumineux', title: 'Envoi trop volumineux', message: 'Le formulaire envoyé est trop volumineux.' },
  415: { code: 'format_non_supporte', title: 'Format non pris en charge', message: "Ce format d'envoi n'est pas pris en charge." },
  429: { code: 'trop_de_requetes', title: 'Trop de demandes', message: 'Vous avez atteint la limite. Réessayez plus tard.' },
  500: { code: 'erreur_interne', title: 'Erreur inattendue', message: "Une erreur inattendue s'est produite. Nous nous en occupons." },
  503: {
    code: 'indisponible',
    title: 'Service momentanément indisponible',
    message: 'Le service est momentanément indisponible. Réessayez dans quelques instants.',
  },
};

export function statusText(status: number) {
  return STATUS_TEXT[status] ?? (status >= 500 ? STATUS_TEXT[500]! : STATUS_TEXT[400]!);
}

/** A dependency (auth, market, limiter, stats, sessions) cannot answer: 503. */
export function unavailable(dependency: string): HttpProblem {
  const t = STATUS_TEXT[503]!;
  return new HttpProblem(503, t.code, t.message, { title: t.title, details: { dependency } });
}

/**
 * A 429: Retry-After in whole seconds, and when to come back. `message` says what happened but
 * not when: the page says the clock time once (`reessayerA`, shown as « 14 h 32 »). `view`: the
 * page to show it on (the form again, as the user filled it in).
 */
export function tooMany(
  waitMs: number,
  code: string,
  title: string,
  message: string,
  opts: { view?: ProblemOptions['view']; headers?: Record<string, string> } = {},
  now = Date.now(),
): HttpProblem {
  const seconds = retryAfterSeconds(waitMs);
  return new HttpProblem(429, code, message, {
    title,
    headers: { 'Retry-After': String(seconds), ...opts.headers },
    details: { retryAfterSeconds: seconds, attente: formatDuration(waitMs), reessayerA: new Date(now + waitMs).toISOString() },
    view: opts.view,
  });
}

/** A service refused for lack of capacity right now (RESOURCE_EXHAUSTED): retry in a second. */
export function busy(dependency: string): HttpProblem {
  return new HttpProblem(503, 'service_occupe', 'Le service reçoit trop de demandes en ce moment : réessayez dans un instant.', {
    title: 'Service très sollicité',
    headers: { 'Retry-After': '1' },
    details: { dependency, retryAfterSeconds: 1 },
  });
}
