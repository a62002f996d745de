// deploy/monitoring: Prometheus accepts the scrape configuration and the alert rules, the rules
// behave as their unit tests say (promtool, from Debian's `prometheus` package; .ci/run installs
// it), and the Grafana dashboard and provisioning agree with each other. That every metric the
// rules and the dashboard name exists in the parts' live /metrics is checked by e2e/metrics.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

const MON = join(resolve(__dirname, '..'), 'monitoring');

function promtool(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: MON, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool not found (${r.error.message}): install Debian's prometheus package (apt-get install prometheus)`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('deploy/monitoring', () => {
  test('promtool check config accepts prometheus.yml and the rule files it loads', () => {
    const r = promtool('check', 'config', 'prometheus.yml');
    expect([r.status, r.out]).toEqual([0, expect.stringContaining('SUCCESS')]);
  });

  test('promtool check rules accepts alerts.yml', () => {
    const r = promtool('check', 'rules', 'alerts.yml');
    expect([r.status, r.out]).toEqual([0, expect.stringMatching(/SUCCESS: \d+ rules found/)]);
  });

  test('each alert fires on its situation and stays silent otherwise (promtool test rules)', () => {
    const r = promtool('test', 'rules', 'alerts.test.yml');
    expect([r.status, r.out]).toEqual([0, expect.stringContaining('SUCCESS')]);
  });

  test('the alerts the operators were promised exist, each with a severity and a summary', () => {
    const doc = parse(readFileSync(join(MON, 'alerts.yml'), 'utf8')) as {
      groups: { rules: { alert: string; labels: Record<string, string>; annotations: Record<string, string> }[] }[];
    };
    const rules = doc.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert).sort()).toEqual(
      [
        'EtuEnvoyRulesNotReloaded',
        'EtuFailOpenAdmission',
        'EtuHigh5xxRatio',
        'EtuLimiterUnreachable',
        'EtuPartDown',
        'EtuPartMissing',
        'EtuStatsRecordsLost',
        'EtuVenteAchatSlow',
      ].sort(),
    );
    for (const r of rules) {
      expect([r.alert, r.labels.severity]).toEqual([r.alert, expect.stringMatching(/^(page|ticket)$/)]);
      expect([r.alert, (r.annotations.summary ?? '').length > 0]).toEqual([r.alert, true]);
    }
  });

  test('every rule in alerts.test.yml is tested', () => {
    const tests = readFileSync(join(MON, 'alerts.test.yml'), 'utf8');
    const rules = [...readFileSync(join(MON, 'alerts.yml'), 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    for (const a of rules) expect([a, tests.includes(`alertname: ${a}`)]).toEqual([a, true]);
  });

  test('compose: prometheus and grafana only in the monitoring profile, on loopback, with the files they mount', () => {
    const doc = parse(readFileSync(join(MON, 'compose.yaml'), 'utf8')) as {
      services: Record<string, { profiles: string[]; ports: string[]; volumes: string[]; networks: string[] }>;
    };
    expect(Object.keys(doc.services).sort()).toEqual(['grafana', 'prometheus']);
    for (const [name, svc] of Object.entries(doc.services)) {
      expect([name, svc.profiles]).toEqual([name, ['monitoring']]);
      for (const p of svc.ports) expect([name, p]).toEqual([name, expect.stringMatching(/^127\.0\.0\.1:/)]);
      for (const v of svc.volumes.filter((x) => x.startsWith('./'))) {
        // Relative to deploy/, the project directory of the first compose file.
        expect([name, v, existsSync(join(MON, '..', v.split(':')[0]!))]).toEqual([name, v, true]);
      }
    }
    // Prometheus reaches the parts on the stack's internal network.
    expect(doc.services.prometheus!.networks).toContain('backend');
    // Each scrape job is a part of parts.json, on that part's default METRICS_PORT.
    const prom = parse(readFileSync(join(MON, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; port: number }[] }[];
    };
    const parts = (
      JSON.parse(readFileSync(join(MON, '..', '..', 'parts.json'), 'utf8')) as { parts: { name: string; metricsPort: number }[] }
    ).parts;
    const jobs = prom.scrape_configs
      .filter((j) => j.dns_sd_configs)
      .map((j) => [j.job_name, j.dns_sd_configs![0]!.names[0], j.dns_sd_configs![0]!.port]);
    expect(jobs.sort()).toEqual(parts.map((p) => [p.name, p.name, p.metricsPort]).sort());
  });

  test('the dashboard uses the provisioned data source and has the promised panels', () => {
    const ds = parse(readFileSync(join(MON, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as {
      datasources: { uid: string; url: string }[];
    };
    const uid = ds.datasources[0]!.uid;
    const dash = JSON.parse(readFileSync(join(MON, 'grafana/dashboards/etuservices.json'), 'utf8')) as {
      uid: string;
      panels: { id: number; title: string; datasource: { uid: string }; targets: { expr: string; datasource: { uid: string } }[] }[];
    };
    const ids = dash.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dash.panels) {
      expect([p.title, p.datasource.uid, ...p.targets.map((t) => t.datasource.uid)]).toEqual([
        p.title,
        ...Array<string>(p.targets.length + 1).fill(uid),
      ]);
      expect([p.title, p.targets.length > 0]).toEqual([p.title, true]);
    }
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    for (const m of [
      'http_server_requests_total',
      'http_server_request_duration_seconds_bucket',
      'etu_quota_decisions_total',
      'etu_limiter_decisions_total',
      'etu_limiter_redis_script_duration_seconds_bucket',
      'etu_logins_total',
      'etu_stats_records_lost_total',
    ]) {
      expect([m, exprs.includes(m)]).toEqual([m, true]);
    }
  });
});
