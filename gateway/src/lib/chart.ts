// The statistics chart: calls per minute over the last hour, stacked by service, drawn as SVG
// on the server. This file computes the geometry only; views/partials/chart.njk draws it, so
// every text goes through the templates' autoescaping.
import type { stats } from '@etu/proto';
import { formatTime } from './format';

export interface ChartSegment {
  y: number;
  h: number;
  kind: 'vente' | 'achat' | 'refus';
}

export interface ChartBar {
  x: number;
  w: number;
  segments: ChartSegment[];
  label: string;
}

export interface ChartModel {
  width: number;
  height: number;
  plot: { x: number; y: number; w: number; h: number };
  bars: ChartBar[];
  yTicks: { y: number; label: string }[];
  xTicks: { x: number; label: string }[];
  max: number;
  total: { vente: number; achat: number; refus: number };
}

/** Smallest "nice" axis maximum (1, 2, 5 × 10^k) at or above n. */
export function niceMax(n: number): number {
  if (n <= 1) return 1;
  const pow = 10 ** Math.floor(Math.log10(n));
  for (const f of [1, 2, 5, 10]) if (f * pow >= n) return f * pow;
  return 10 * pow;
}

/** Width of one digit of the axis at its largest font (24 units on a phone), and the gap after. */
const AXIS_DIGIT_WIDTH = 15;
const AXIS_GAP = 14;

export function buildChart(buckets: stats.MinuteBucket[], timeZone: string): ChartModel {
  const width = 720;
  const height = 260;
  const totals = buckets.map((b) => b.venteAllowed + b.achatAllowed + b.venteDenied + b.achatDenied);
  const max = niceMax(Math.max(0, ...totals));
  // Room on the left for the counts, on the right and below for the minute labels. The counts'
  // room grows with their digits at the phone's 24-unit font (style.css): « 100 » fits whole.
  const left = Math.max(40, AXIS_GAP + String(max).length * AXIS_DIGIT_WIDTH);
  const top = 20; // the highest count's label (24 units tall on a phone) stays inside the picture
  const plot = { x: left, y: top, w: width - left - 28, h: height - top - 30 };
  const n = Math.max(buckets.length, 1);
  const slot = plot.w / n;
  const barW = Math.max(1, slot * 0.75);
  const scale = plot.h / max;
  const round = (v: number) => Math.round(v * 100) / 100;
  const total = { vente: 0, achat: 0, refus: 0 };

  const bars: ChartBar[] = buckets.map((b, i) => {
    const x = round(plot.x + i * slot + (slot - barW) / 2);
    const parts: [ChartSegment['kind'], number][] = [
      ['vente', b.venteAllowed],
      ['achat', b.achatAllowed],
      ['refus', b.venteDenied + b.achatDenied],
    ];
    total.vente += b.venteAllowed;
    total.achat += b.achatAllowed;
    total.refus += b.venteDenied + b.achatDenied;
    let base = plot.y + plot.h;
    const segments: ChartSegment[] = [];
    for (const [kind, count] of parts) {
      if (count <= 0) continue;
      const h = count * scale;
      base -= h;
      segments.push({ kind, y: round(base), h: round(h) });
    }
    const at = b.minute ? formatTime(b.minute, timeZone) : '';
    const label = `${at} — Vente ${b.venteAllowed}, Achat ${b.achatAllowed}, refusés ${b.venteDenied + b.achatDenied}`;
    return { x, w: round(barW), segments, label };
  });

  const yTicks = [0, max / 2, max]
    .filter((v, i, a) => Number.isInteger(v) && a.indexOf(v) === i)
    .map((v) => ({ y: round(plot.y + plot.h - v * scale), label: String(v) }));
  const xTicks: ChartModel['xTicks'] = [];
  buckets.forEach((b, i) => {
    const fromEnd = buckets.length - 1 - i;
    if (b.minute && fromEnd % 10 === 0) xTicks.push({ x: round(plot.x + i * slot + slot / 2), label: formatTime(b.minute, timeZone) });
  });
  return { width, height, plot, bars, yTicks, xTicks, max, total };
}
