// French wording and number formats shown to users: durations, the quota sentence, prices,
// dates. Pure functions, unit-tested.

/** Whole seconds a client should wait (at least 1), for `Retry-After` and the pages. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** "4 min 12 s", "45 s", "1 h 5 min": a wait, rounded up to the second. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return s > 0 ? `${m} min ${s} s` : `${m} min`;
  return `${s} s`;
}

export interface QuotaView {
  limit: number;
  remaining: number;
  /** Milliseconds until the next call frees up (the oldest counted call leaves the window). */
  nextFreeMs: number | undefined;
  /** Milliseconds until the whole quota is free again. */
  fullMs: number;
}

/**
 * The quota sentence, in plain French with the clock time (issue 19, item 6): "Il vous reste 7
 * actions sur 10 ; la prochaine redevient disponible à 14 h 32." An action is one sale or one
 * purchase. The time is rounded up to the minute, so it is never earlier than the truth.
 */
export function quotaSentence(q: QuotaView, now: number, timeZone: string): string {
  const actions = (n: number) => `${n} action${n > 1 ? 's' : ''}`;
  if (q.remaining >= q.limit) return `Il vous reste ${actions(q.limit)} sur ${q.limit}.`;
  const head = q.remaining <= 0 ? `Il ne vous reste aucune action sur ${q.limit}` : `Il vous reste ${actions(q.remaining)} sur ${q.limit}`;
  if (q.nextFreeMs !== undefined && q.nextFreeMs > 0)
    return `${head} ; la prochaine redevient disponible à ${formatClock(now + q.nextFreeMs, timeZone)}.`;
  return `${head} ; toutes redeviennent disponibles à ${formatClock(now + q.fullMs, timeZone)}.`;
}

const clockFormatters = new Map<string, Intl.DateTimeFormat>();

/** "14 h 32": a moment's clock time in `timeZone`, rounded up to the next minute. */
export function formatClock(epochMs: number, timeZone: string): string {
  let f = clockFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('fr-FR', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    clockFormatters.set(timeZone, f);
  }
  const parts = f.formatToParts(new Date(Math.ceil(epochMs / 60_000) * 60_000));
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '00';
  return `${Number(part('hour'))} h ${part('minute')}`;
}

/** Longest price text read ("1000000,00 euros" is 16): anything longer is refused before any regex. */
export const PRIX_MAX_LENGTH = 32;
// Linear: no two quantifiers can share a character (the former `\s*(?:€|eur|euros?)?\s*$` could,
// and 16 KB of inner spaces then took ~200 ms of event loop per request).
const PRIX = /^(\d{1,7})(?:[.,](\d{1,2}))?(?:\s?(?:€|eur|euros?))?$/i;

/** Parses a price typed in euros ("12.50", "12,50", "12", "12,5 €") into cents; null when malformed. */
export function parseEuros(input: string): number | null {
  if (input.length > PRIX_MAX_LENGTH) return null;
  const m = PRIX.exec(input.trim());
  if (!m) return null;
  const euros = Number(m[1]);
  const frac = m[2] ?? '';
  const cents = frac.length === 0 ? 0 : frac.length === 1 ? Number(frac) * 10 : Number(frac);
  return euros * 100 + cents;
}

/** 1250 → "12,50", 1200 → "12": a price as a form's field shows it (parseEuros reads it back). */
export function priceInput(cents: number): string {
  const euros = Math.floor(cents / 100);
  const rest = cents % 100;
  return rest === 0 ? String(euros) : `${euros},${String(rest).padStart(2, '0')}`;
}

const euroFmt = new Intl.NumberFormat('fr-FR', { style: 'currency', currency: 'EUR' });

/** 1250 → "12,50 €". */
export function formatEuros(cents: number): string {
  return euroFmt.format(cents / 100);
}

const dateFormatters = new Map<string, Intl.DateTimeFormat>();

/** "26/11/2026 14:05" in the given time zone. */
export function formatDateTime(d: Date | undefined, timeZone: string): string {
  if (!d) return '—';
  let f = dateFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('fr-FR', {
      timeZone,
      day: '2-digit',
      month: '2-digit',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
    });
    dateFormatters.set(timeZone, f);
  }
  return f.format(d).replace(',', '');
}

/** "14:05" in the given time zone. */
export function formatTime(d: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('fr-FR', { timeZone, hour: '2-digit', minute: '2-digit' }).format(d);
}
