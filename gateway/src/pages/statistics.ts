// What the statistics page shows: the four answers of the brief (10 derniers connectés, top 3
// des connexions, utilisateurs qui utilisent le moins les services, service le plus utilisé),
// totals, denials and a chart of the last hour. Admins only: the role is asked of auth on each
// visit, so a demoted account loses access at once.
import { auth, stats } from '@etu/proto';
import type { Ctx } from '../context';
import type { Wiring } from '../deps';
import { buildChart } from '../lib/chart';
import { callOpts, callService } from '../lib/grpc';
import { HttpProblem } from '../lib/problem';
import type { SessionUser } from '../lib/session';

const SERVICE_LABEL: Record<number, string> = {
  [stats.ServiceKind.SERVICE_KIND_VENTE]: 'Vente',
  [stats.ServiceKind.SERVICE_KIND_ACHAT]: 'Achat',
};

/** The page's data; 403 for anyone but an admin, 503 when auth or stats cannot answer. */
export async function statisticsPage(w: Wiring, ctx: Ctx, me: SessionUser) {
  const { clients } = w;
  const log = ctx.state.log;
  const self = await callService(log, 'auth', () => clients.auth.getUsers({ ids: [me.id] }, callOpts(ctx)));
  if (self.users[0]?.role !== auth.Role.ROLE_ADMIN) {
    log.info({ userId: me.id }, 'statistics refused: not an admin');
    throw new HttpProblem(403, 'reserve_admin', "Cette page est réservée à l'équipe EtuServices.", { title: 'Accès réservé' });
  }
  // Refusals this gateway summed and records it queued but has not sent yet are sent first, so
  // the page counts them.
  await Promise.all([w.denials.flush(), w.statsBatch?.flush()]);
  const dash = await callService(log, 'stats', () => clients.stats.getDashboard({}, callOpts(ctx)));
  const ids = [
    ...dash.lastLogins.map((l) => l.userId),
    ...dash.topConnectors.map((u) => u.userId),
    ...dash.leastServiceUsers.map((u) => u.userId),
    ...dash.topDeniedUsers.map((u) => u.userId),
  ];
  const unique = [...new Set(ids)];
  const users = unique.length ? await callService(log, 'auth', () => clients.auth.getUsers({ ids: unique }, callOpts(ctx))) : { users: [] };
  const byId = new Map(users.users.map((u) => [u.id, u]));
  const who = (id: string) => {
    const u = byId.get(id);
    if (u) return { id, name: `${u.firstName} ${u.lastName}`, email: u.email };
    // An erased account's statistics carry an anonymous id (stats ForgetUser): nobody to name.
    return { id, name: id.startsWith('supprime-') ? 'Compte supprimé' : `Compte n° ${id} (introuvable)`, email: '' };
  };
  const total = (list: stats.ServiceCount[], kind: stats.ServiceKind) => list.find((s) => s.service === kind)?.count ?? 0;
  const totals = {
    vente: total(dash.serviceTotals, stats.ServiceKind.SERVICE_KIND_VENTE),
    achat: total(dash.serviceTotals, stats.ServiceKind.SERVICE_KIND_ACHAT),
    venteRefus: total(dash.deniedTotals, stats.ServiceKind.SERVICE_KIND_VENTE),
    achatRefus: total(dash.deniedTotals, stats.ServiceKind.SERVICE_KIND_ACHAT),
    logins: dash.totalLogins,
    users: dash.knownUsers,
  };
  const mostUsed =
    dash.mostUsedService && dash.mostUsedService.count > 0
      ? { label: SERVICE_LABEL[dash.mostUsedService.service] ?? '?', count: dash.mostUsedService.count }
      : undefined;
  return {
    lastLogins: dash.lastLogins.map((l) => ({ ...who(l.userId), at: l.at })),
    topConnectors: dash.topConnectors.map((u) => ({ ...who(u.userId), count: u.count })),
    leastUsers: dash.leastServiceUsers.map((u) => ({ ...who(u.userId), count: u.count })),
    topDenied: dash.topDeniedUsers.map((u) => ({ ...who(u.userId), count: u.count })),
    mostUsed,
    totals,
    chart: buildChart(dash.lastHour, w.config.DISPLAY_TIME_ZONE),
    buckets: dash.lastHour,
  };
}

export type StatisticsPage = Awaited<ReturnType<typeof statisticsPage>>;

/** The JSON form of the statistics page. */
export function statisticsJson(data: StatisticsPage) {
  return {
    derniersConnectes: data.lastLogins.map((l) => ({ id: l.id, nom: l.name, le: l.at?.toISOString() })),
    topConnexions: data.topConnectors.map((u) => ({ id: u.id, nom: u.name, connexions: u.count })),
    moinsUtilisateurs: data.leastUsers.map((u) => ({ id: u.id, nom: u.name, appels: u.count })),
    serviceLePlusUtilise: data.mostUsed ? { service: data.mostUsed.label, appels: data.mostUsed.count } : null,
    totaux: data.totals,
    refusesParUtilisateur: data.topDenied.map((u) => ({ id: u.id, nom: u.name, refus: u.count })),
    derniereHeure: data.buckets.map((b) => ({
      minute: b.minute?.toISOString(),
      venteAcceptes: b.venteAllowed,
      achatAcceptes: b.achatAllowed,
      venteRefuses: b.venteDenied,
      achatRefuses: b.achatDenied,
    })),
  };
}
