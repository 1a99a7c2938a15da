/**
 * The latency plot for `--report FILE`: the percentile curve the HdrHistogram plotter draws
 * (x: 0 %, 90 %, 99 %, 99.9 % … evenly spaced, so the tail gets as much room as the median;
 * y: milliseconds), corrected and uncorrected. A `.svg` file gets the chart alone; an HTML
 * page gets a header for a ticket (date, command line, version, machine, a pass/fail banner
 * with the verdict's reason), the chart and the figures. No scripts, no external assets.
 */
import { describeLoad, formatReport, withoutCurves, type FleetReport } from './report.ts';

type Point = { percentile: number; ms: number };

const W = 760;
const H = 420;
const M = { left: 64, right: 20, top: 40, bottom: 56 };

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** log10(1 / (1 - p)): 0 at 0 %, 1 at 90 %, 2 at 99 % … */
const nines = (percentile: number) => (percentile >= 100 ? Infinity : -Math.log10(1 - percentile / 100));

const COLORS = ['#c0392b', '#2980b9', '#27ae60', '#8e44ad', '#d35400'];

/** One load: corrected and uncorrected. Several: the corrected curve of each. */
function seriesOf(r: FleetReport): { name: string; color: string; points: Point[] }[] {
  if (r.loads.length === 1) {
    const { curve } = r.loads[0]!;
    return [
      { name: 'corrected (from schedule)', color: COLORS[0]!, points: curve.corrected },
      { name: 'uncorrected (from publish)', color: COLORS[1]!, points: curve.uncorrected },
    ];
  }
  return r.loads.map((l, i) => ({
    name: `${describeLoad(l)}, corrected`,
    color: COLORS[i % COLORS.length]!,
    points: l.curve.corrected,
  }));
}

export function latencySvg(r: FleetReport): string {
  const series = seriesOf(r);
  const all = series.flatMap((s) => s.points);
  const finite = all.filter((p) => Number.isFinite(nines(p.percentile)));
  const xMax = Math.max(1, Math.ceil(Math.max(0, ...finite.map((p) => nines(p.percentile)))));
  const yMax = niceCeiling(Math.max(0.001, ...all.map((p) => p.ms)));
  const x = (p: number) => M.left + (Math.min(nines(p), xMax) / xMax) * (W - M.left - M.right);
  const y = (ms: number) => H - M.bottom - (ms / yMax) * (H - M.top - M.bottom);
  const parts: string[] = [];
  for (let i = 0; i <= xMax; i++) {
    const px = M.left + (i / xMax) * (W - M.left - M.right);
    const label = i === 0 ? '0%' : `${(100 - 100 * 10 ** -i).toFixed(Math.max(0, i - 2))}%`;
    parts.push(`<line x1="${px}" y1="${M.top}" x2="${px}" y2="${H - M.bottom}" stroke="#ddd"/>`);
    parts.push(`<text x="${px}" y="${H - M.bottom + 18}" text-anchor="middle">${label}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const ms = (yMax * i) / 5;
    parts.push(`<line x1="${M.left}" y1="${y(ms)}" x2="${W - M.right}" y2="${y(ms)}" stroke="#ddd"/>`);
    parts.push(`<text x="${M.left - 8}" y="${y(ms) + 4}" text-anchor="end">${formatMs(ms)}</text>`);
  }
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${x(p.percentile).toFixed(1)},${y(p.ms).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    parts.push(`<rect x="${M.left + 12}" y="${M.top + 10 + i * 18}" width="14" height="3" fill="${s.color}"/>`);
    parts.push(`<text x="${M.left + 32}" y="${M.top + 15 + i * 18}">${escape(s.name)}</text>`);
  });
  const target = r.run.mode === 'raw' ? 'received' : 'PCM ready';
  const rates = r.loads.map(describeLoad).join(', ');
  const title = `${r.run.devices} ${r.run.mode === 'raw' ? 'raw MQTT clients' : 'speakers'}, ${rates}: latency, creation → ${target}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${escape(title)}</text>`,
    ...parts,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 14}" text-anchor="middle">percentile</text>`,
    `<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">milliseconds</text>`,
    '</svg>',
  ].join('\n');
}

/** What the report cannot know by itself: how it was asked for. */
export interface ReportHeader {
  /** The command line as typed (argv after node). */
  command: string;
  /** payspeaker's version. */
  version: string;
}

export function reportHtml(r: FleetReport, header: ReportHeader): string {
  const m = r.machine;
  const rows: [string, string][] = [
    ['date', r.run.startedAt],
    ['command', header.command],
    ['payspeaker', header.version],
    [
      'machine',
      `${m.cpu}, ${m.cpus} cores, ${m.memoryGB} GB memory, Node ${m.node}, load average ${m.loadavg.join(' ')}`,
    ],
    ['broker', r.run.broker],
    ...(r.scenario ? ([['scenario', `${r.scenario.name} (${r.scenario.file})`]] as [string, string][]) : []),
  ];
  const banner = r.verdict.ok
    ? `<p class="banner pass"><strong>PASS</strong> — ${escape(r.verdict.reason)}</p>`
    : `<p class="banner fail"><strong>FAIL</strong> — ${escape(r.verdict.reason)}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>payspeaker fleet report ${escape(r.run.startedAt)}</title>
<style>body{font-family:sans-serif;margin:2em;color:#222}pre{background:#f6f6f6;padding:1em;overflow:auto}
table.header th{text-align:left;padding-right:1em;vertical-align:top}table.header td{font-family:monospace}
.banner{padding:.6em 1em;font-size:1.1em;border-radius:4px}.pass{background:#e3f4e8;color:#14532d}.fail{background:#fde8e8;color:#7f1d1d}</style></head>
<body><h1>payspeaker fleet report</h1>
${banner}
<table class="header">
${rows.map(([k, v]) => `<tr><th>${k}</th><td>${escape(v)}</td></tr>`).join('\n')}
</table>
${latencySvg(r)}
<pre>${escape(formatReport(r))}</pre>
<details><summary>JSON</summary><pre>${escape(JSON.stringify(withoutCurves(r), null, 2))}</pre></details>
</body></html>
`;
}

function niceCeiling(v: number): number {
  const step = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= v) return m * step;
  return 10 * step;
}

function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 1 ? String(Number(ms.toFixed(1))) : String(Number(ms.toFixed(3)));
}
