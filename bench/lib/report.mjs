// Writes the results of one `make bench`: a Markdown report, its JSON twin, an SVG chart
// (decisions or requests per second and p99 per figure, drawn here, no library), and the
// "latest results" section of bench/README.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { rpcBatch } from './targets.mjs';

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const COLUMNS = [
  ['perSecond', 'per second', 0],
  ['p50Ms', 'p50 ms', 2],
  ['p99Ms', 'p99 ms', 2],
  ['errorShare', 'errors', 'pct'],
  ['admittedShare', 'admitted', 'pct'],
  ['okShare', 'expected status', 'pct'],
  ['failShare', '4xx/5xx', 'pct'],
  ['meanBatch', 'decisions per RPC', 1],
  ['redisUsPerCall', 'Redis µs/call', 2],
  ['memoryUsagePerKey', 'MEMORY USAGE B/key', 0],
  ['bytesPerSubject', 'used_memory B/subject', 0],
  ['usPerDecision', 'Redis µs/decision (mixed)', 2],
  ['usPerDecisionFull', 'Redis µs/decision (full windows)', 2],
  ['bytesPerUser', 'B/user', 0],
  ['bytesPerUserWithEventKeys', 'B/user with 5 min dedup keys', 0],
  ['bytesPerEventKey', 'B/dedup key', 0],
  ['requests', 'requests', 0],
  ['limiterKeys', 'limiter Δkeys', 0],
  ['statsKeys', 'stats Δkeys', 0],
  ['sessionsKeys', 'sessions Δkeys', 0],
  ['limiterBytes', 'limiter Δbytes', 0],
  ['statsBytes', 'stats Δbytes', 0],
  ['sessionsBytes', 'sessions Δbytes', 0],
  ['limiterKeysEnd', 'limiter keys at end', 0],
  ['statsKeysEnd', 'stats keys at end', 0],
  ['sessionsKeysEnd', 'sessions keys at end', 0],
  ['limiterKeysLateGrowth', 'limiter keys added in 2nd half', 0],
  ['statsKeysLateGrowth', 'stats keys added in 2nd half', 0],
  ['sessionsKeysLateGrowth', 'sessions keys added in 2nd half', 0],
  ['bytesPerSession', 'B/session', 0],
  ['bytesPerListing', 'MariaDB B/listing', 0],
  ['bytesPerUserRow', 'MariaDB B/user', 0],
];

function num(x, d) {
  if (x == null) return '–';
  if (d === 'pct') return `${(x * 100).toFixed(1)}%`;
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

function cell(s, d) {
  if (!s || s.median == null) return '–';
  const m = num(s.median, d);
  if (s.runs.length < 2 || s.min === s.max) return m;
  return `${m} <sub>${num(s.min, d)}–${num(s.max, d)}</sub>`;
}

/** A figure's value for the column: decisions per RPC only where the RPCs were batches (targets.mjs, rpcBatch). */
const valueOf = (f, k) => (k === 'meanBatch' && rpcBatch(f) == null ? undefined : f[k]);

function figureTable(figs) {
  const cols = COLUMNS.filter(([k]) => figs.some((f) => valueOf(f, k)?.median != null));
  const lines = [`| figure | in flight | ${cols.map((c) => c[1]).join(' | ')} |`, `|---|---|${cols.map(() => '---:').join('|')}|`];
  for (const f of figs)
    lines.push(`| ${esc(f.label)} | ${f.inflight ?? ''} | ${cols.map(([k, , d]) => cell(valueOf(f, k), d)).join(' | ')} |`);
  return lines.join('\n');
}

function cpuTable(figs) {
  const parts = new Set();
  for (const f of figs) for (const k of Object.keys(f)) if (k.endsWith('CpuShare')) parts.add(k.slice(0, -'CpuShare'.length));
  if (!parts.size) return '';
  const ps = [...parts];
  const per = (f, p) => f[`${p}CpuUsPerDecision`] ?? f[`${p}CpuUsPerRequest`];
  const lines = [
    'CPU used during the measured window, in cores, and CPU µs per decision/request:',
    '',
    `| figure | ${ps.join(' | ')} |`,
    `|---|${ps.map(() => '---:').join('|')}|`,
  ];
  for (const f of figs) {
    lines.push(
      `| ${esc(f.label)} | ${ps.map((p) => (f[`${p}CpuShare`]?.median == null ? '–' : `${f[`${p}CpuShare`].median.toFixed(2)} · ${num(per(f, p)?.median, 1)} µs`)).join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

function targetsTable(targets) {
  const v = (t) => (t.met === true ? '**met**' : t.met === false ? '**missed**' : 'info');
  const lines = ['| target | measured (median, min–max) | goal | verdict |', '|---|---|---|---|'];
  for (const t of targets)
    lines.push(`| ${esc(t.name)} | ${esc(t.measured)} | ${esc(t.target)} | ${v(t)}${t.gap ? `: ${esc(t.gap)}` : ''} |`);
  const bounds = targets.filter((t) => t.bound);
  if (bounds.length) {
    lines.push('', 'What bounds each missed figure (measured CPU per process during the window):', '');
    for (const t of bounds) lines.push(`- **${esc(t.name)}**: ${esc(t.bound)}`);
  }
  return lines.join('\n');
}

export function markdown(r) {
  const m = r.machine;
  const out = [
    `# make bench — ${r.date} — ${r.commit}${r.dirty ? ' (uncommitted changes)' : ''}`,
    '',
    `Mode: **${r.quick ? 'quick (BENCH_QUICK=1: 1 run per figure, short phases — development only)' : `full (median of ${r.runs} runs, min–max in small type)`}**. ` +
      `Machine: ${m.nproc} cores, ${esc(m.cpuModel)}, ${m.memTotalGiB} GiB, Linux ${m.kernel}, Node ${m.node}, Redis ${m.redis}, redis-benchmark ${m.redisBenchmark}, MariaDB ${m.mariadb}, autocannon ${m.autocannon}.`,
    '',
    `Quiet machine: ${r.quiet.verdict}. ${r.quiet.detail}`,
    '',
    ...(r.experiment
      ? [`**Experiment — not the project's code as committed**: ${esc(r.experiment)} (bench/experiments/patches.cjs).`, '']
      : []),
    '## Targets (issue 9)',
    '',
    targetsTable(r.targets),
    '',
    `![decisions/s and p99 per figure](${r.chartFile})`,
    '',
  ];
  for (const p of r.phases) {
    out.push(`## ${esc(p.title)}`, '');
    out.push(
      `Wall time ${p.seconds?.toFixed(0) ?? '–'} s; other processes on the machine used ${p.load?.otherCores ?? '–'} core on average meanwhile (the bench ${p.load?.oursCores ?? '–'}).`,
      '',
    );
    if (p.skipped) {
      out.push(`**Skipped**: ${esc(p.skipped)}`, '');
      continue;
    }
    if (p.error) out.push(`**Failed**: ${esc(p.error)}`, '');
    if (p.figures?.length) out.push(figureTable(p.figures), '');
    const cpu = p.figures?.length ? cpuTable(p.figures) : '';
    if (cpu) out.push(cpu, '');
    for (const f of p.figures ?? []) {
      const kinds = Object.entries(f.errorKinds ?? {});
      if (kinds.length) out.push(`Errors of “${esc(f.label)}”: ${kinds.map(([k, n]) => `${n}× ${esc(k)}`).join('; ')}`, '');
      if (f.statusCodes)
        out.push(
          `Status codes of “${esc(f.label)}”: ${Object.entries(f.statusCodes)
            .map(([k, n]) => `${k}: ${n}`)
            .join(', ')}`,
          '',
        );
    }
    for (const n of p.notes ?? []) out.push(`- ${esc(n)}`);
    if (p.notes?.length) out.push('');
    for (const prof of p.profiles ?? []) {
      out.push(
        `Profile \`${esc(prof.name)}\` (node --cpu-prof, ${prof.busyMs} ms busy): ${prof.packages.map((x) => `${esc(x.name)} ${(x.share * 100).toFixed(0)}%`).join(', ')}.`,
        '',
      );
      out.push(
        `Hottest functions: ${prof.functions
          .slice(0, 8)
          .map((x) => `\`${esc(x.name)}\` ${(x.share * 100).toFixed(1)}%`)
          .join(', ')}.`,
        '',
      );
    }
  }
  return out.join('\n');
}

/** Two log-scale panels: throughput and p99 per figure, one row each, whiskers min–max. */
export function svgChart(r) {
  const rows = [];
  for (const p of r.phases)
    for (const f of p.figures ?? []) if (f.perSecond?.median != null && f.unit !== 'bytes/subject') rows.push({ phase: p.id, f });
  const W = 1000;
  const rowH = 22;
  const top = 56;
  const labelW = 340;
  const panelW = (W - labelW - 40) / 2;
  const H = top + rows.length * rowH + 56;
  const colors = { ceiling: '#4e79a7', peer: '#f28e2b', grpc: '#59a14f', site: '#e15759' };
  const logX = (v, lo, hi, x0) =>
    x0 + ((Math.log10(Math.max(lo, Math.min(hi, v))) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * panelW;
  const s = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">make bench ${esc(r.date)} ${esc(r.commit)}${r.quick ? ' (quick mode)' : ''}: per second and p99, median with min–max</text>`,
  ];
  const panels = [
    {
      x0: labelW,
      lo: 100,
      hi: 3e6,
      key: 'perSecond',
      title: 'decisions or requests per second (log)',
      unit: (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v >= 1000 ? `${(v / 1000).toFixed(v >= 1e4 ? 0 : 1)}k` : v.toFixed(0)),
      targets: [[2000, 'site ≥ 2k/s']],
    },
    {
      x0: labelW + panelW + 30,
      lo: 0.1,
      hi: 1000,
      key: 'p99Ms',
      title: 'p99 latency, ms (log)',
      unit: (v) => (v >= 10 ? v.toFixed(0) : v.toFixed(2)),
      targets: [
        [3, 'gRPC ≤ 3 ms'],
        [50, 'site ≤ 50 ms'],
      ],
    },
  ];
  for (const pn of panels) {
    s.push(`<text x="${pn.x0}" y="${top - 22}" font-weight="bold">${pn.title}</text>`);
    for (let e = Math.ceil(Math.log10(pn.lo)); e <= Math.log10(pn.hi); e++) {
      const v = 10 ** e;
      const x = logX(v, pn.lo, pn.hi, pn.x0);
      s.push(`<line x1="${x}" x2="${x}" y1="${top - 12}" y2="${top + rows.length * rowH}" stroke="#ddd"/>`);
      s.push(`<text x="${x}" y="${top - 4}" text-anchor="middle" fill="#666">${pn.unit(v)}</text>`);
    }
    for (const [j, [v, name]] of pn.targets.entries()) {
      const x = logX(v, pn.lo, pn.hi, pn.x0);
      s.push(`<line x1="${x}" x2="${x}" y1="${top - 12}" y2="${top + rows.length * rowH}" stroke="#b00" stroke-dasharray="4 3"/>`);
      s.push(`<text x="${x + 3}" y="${top + rows.length * rowH + 12 + 11 * j}" fill="#b00" font-size="10">target ${esc(name)}</text>`);
    }
  }
  rows.forEach(({ phase, f }, i) => {
    const y = top + i * rowH;
    const c = colors[phase] ?? '#999';
    const text = `${phase}: ${f.label}`;
    const label = `${text.length > 48 ? `${text.slice(0, 47)}…` : text}${f.inflight ? ` [${f.inflight}]` : ''}`;
    s.push(`<text x="${labelW - 8}" y="${y + 15}" text-anchor="end"><title>${esc(text)}</title>${esc(label)}</text>`);
    for (const pn of panels) {
      const st = f[pn.key];
      if (st?.median == null) continue;
      const x = logX(st.median, pn.lo, pn.hi, pn.x0);
      s.push(`<rect x="${pn.x0}" y="${y + 4}" width="${Math.max(1, x - pn.x0)}" height="${rowH - 8}" fill="${c}" opacity="0.85"/>`);
      let end = x;
      if (st.min !== st.max) {
        const a = logX(st.min, pn.lo, pn.hi, pn.x0);
        const b = logX(st.max, pn.lo, pn.hi, pn.x0);
        end = Math.max(x, b);
        s.push(`<line x1="${a}" x2="${b}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" stroke="#222"/>`);
        s.push(
          `<line x1="${a}" x2="${a}" y1="${y + 7}" y2="${y + rowH - 7}" stroke="#222"/><line x1="${b}" x2="${b}" y1="${y + 7}" y2="${y + rowH - 7}" stroke="#222"/>`,
        );
      }
      s.push(`<text x="${end + 4}" y="${y + 15}" fill="#222">${pn.unit(st.median)}</text>`);
    }
  });
  const ly = top + rows.length * rowH + 46;
  let lx = labelW;
  for (const [k, c] of Object.entries(colors)) {
    s.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${c}"/><text x="${lx + 16}" y="${ly}">${k}</text>`);
    lx += 90;
  }
  s.push('</svg>');
  return s.join('\n');
}

const BEGIN = '<!-- latest-results:begin (written by bench/run.mjs) -->';
const END = '<!-- latest-results:end -->';

/** `prefix` is the path from the README's folder to bench/ ('' for bench/README.md, 'bench/' for the root one). */
export function updateReadme(readmePath, r, mdFile, prefix = '') {
  let text = readFileSync(readmePath, 'utf8');
  const i = text.indexOf(BEGIN);
  const j = text.indexOf(END);
  if (i < 0 || j < i) return false;
  const section = [
    BEGIN,
    `Latest full run: ${r.date}, commit ${r.commit}${r.dirty ? ' (uncommitted changes)' : ''}, ${r.machine.nproc} cores ${esc(r.machine.cpuModel)}; machine quiet: ${r.quiet.verdict}. Details: [${mdFile}](${prefix}results/${mdFile}).`,
    '',
    targetsTable(r.targets),
    '',
    `![decisions/s and p99 per figure](${prefix}results/${r.chartFile})`,
    END,
  ].join('\n');
  text = text.slice(0, i) + section + text.slice(j + END.length);
  writeFileSync(readmePath, text);
  return true;
}
