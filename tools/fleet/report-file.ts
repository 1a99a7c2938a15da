/**
 * `--report PATH`: where the report goes and in which format, decided and checked before the
 * run starts — a ten-minute run must not end in "no such folder". The extension decides:
 * .html (header, pass/fail banner, chart, figures), .svg (the chart alone), .json (the
 * figures and the header, for scripts). Anything else is refused up front.
 */
import fs from 'node:fs';
import path from 'node:path';
import { reportHtml, latencySvg, type ReportHeader } from './plot.ts';
import { withoutCurves, type FleetReport } from './report.ts';

export type ReportFormat = 'html' | 'svg' | 'json';

export interface ReportTarget {
  /** Absolute path: printed as it is, so a user can open it from anywhere. */
  file: string;
  format: ReportFormat;
}

export class ReportPathError extends Error {
  override name = 'ReportPathError';
}

const FORMATS: Record<string, ReportFormat> = { '.html': 'html', '.htm': 'html', '.svg': 'svg', '.json': 'json' };

/** Throws a ReportPathError naming the path and the fix when the report could not be written there. */
export function checkReportTarget(given: string): ReportTarget {
  const ext = path.extname(given).toLowerCase();
  const format = FORMATS[ext];
  if (!format)
    throw new ReportPathError(
      `--report ${given}: the extension decides the format: .html (header, verdict, chart and figures), .svg (the chart) or .json (the figures); ${ext ? `${ext} is none of them` : 'it has none'}`,
    );
  const file = path.resolve(given);
  const dir = path.dirname(file);
  const folder = fs.statSync(dir, { throwIfNoEntry: false });
  if (!folder)
    throw new ReportPathError(
      `--report ${given}: the folder ${dir} does not exist: create it first, or choose another path`,
    );
  if (!folder.isDirectory()) throw new ReportPathError(`--report ${given}: ${dir} is not a folder`);
  const existing = fs.statSync(file, { throwIfNoEntry: false });
  if (existing?.isDirectory())
    throw new ReportPathError(
      `--report ${given}: ${file} is a folder: name a file in it, e.g. ${path.join(given, 'fleet.html')}`,
    );
  try {
    fs.accessSync(existing ? file : dir, fs.constants.W_OK);
  } catch {
    throw new ReportPathError(
      `--report ${given}: ${existing ? file : `the folder ${dir}`} is not writable: choose another path`,
    );
  }
  return { file, format };
}

export function reportContents(target: ReportTarget, r: FleetReport, header: ReportHeader): string {
  switch (target.format) {
    case 'svg':
      return `${latencySvg(r)}\n`;
    case 'json':
      return `${JSON.stringify({ header, ...withoutCurves(r) }, null, 2)}\n`;
    case 'html':
      return reportHtml(r, header);
  }
}

export function writeReport(target: ReportTarget, r: FleetReport, header: ReportHeader): void {
  fs.writeFileSync(target.file, reportContents(target, r, header));
}
