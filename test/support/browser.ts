/**
 * Debian's Chromium, driven by playwright-core, for the web console's tests (issue 13). Nothing
 * is downloaded: playwright's own browsers and its installer are never used, the set-up installs
 * the `chromium` package like the other system programs (test/support/prerequisites.ts), and a
 * test file guards itself with `needs('chromium')`.
 *
 * `openPage` records what a page must never do: log a console error, throw, break its
 * Content-Security-Policy, or ask a third party for anything (the console works on a plane).
 * `assertClean()` fails the test on any of it, listing them all.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM } from './prerequisites.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** Git-ignored: screenshots of the console after its tests (one goes into the README). */
export const SCREENSHOT_DIR = path.join(ROOT, 'test-output', 'screenshots');
const AXE = path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      // A payment is announced without anyone clicking first, as on the box on the counter.
      '--autoplay-policy=no-user-gesture-required',
      // WebAudio still runs (the tests read what the tab played), but a developer's speakers stay quiet.
      '--mute-audio',
      // The pages are our own, on loopback. Chromium refuses its sandbox as root (containers, CI),
      // and unprivileged containers often lack the user namespaces it needs.
      '--no-sandbox',
      // Containers give /dev/shm 64 MB, which Chromium's renderers outgrow.
      '--disable-dev-shm-usage',
    ],
  });
}

export interface CspViolation {
  directive: string;
  blocked: string;
  source: string;
}

export interface PageProblems {
  /** console.error calls and the browser's own error lines (a failed load, a refused script). */
  consoleErrors: string[];
  /** Uncaught exceptions and unhandled rejections in the page. */
  pageErrors: string[];
  /** `securitypolicyviolation` events: what the Content-Security-Policy blocked. */
  cspViolations: CspViolation[];
  /** HTTP(S) requests to any origin but the page's own (WebSockets are the CSP's business). */
  thirdParty: string[];
}

export interface OpenedPage {
  page: Page;
  context: BrowserContext;
  problems: PageProblems;
  /** Throws, listing every problem, if the page logged an error, threw, broke its CSP or called a third party. */
  assertClean(): void;
  close(): Promise<void>;
}

export interface OpenPageOptions {
  /** Wait for this selector after the load (the app's first render); default: the load event only. */
  waitFor?: string;
  timeoutMs?: number;
}

/** A fresh context (no shared storage between tests) with one page, opened at `url`. */
export async function openPage(browser: Browser, url: string, opts: OpenPageOptions = {}): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(opts.timeoutMs ?? 15_000);
  const problems: PageProblems = { consoleErrors: [], pageErrors: [], cspViolations: [], thirdParty: [] };
  const origin = new URL(url).origin;
  page.on('console', (m) => {
    if (m.type() === 'error') problems.consoleErrors.push(`${m.text()} (${m.location().url || 'page'})`);
  });
  page.on('pageerror', (e) => problems.pageErrors.push(e.stack ?? e.message));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if ((u.protocol === 'http:' || u.protocol === 'https:') && u.origin !== origin) problems.thirdParty.push(r.url());
  });
  // A binding and an init script are DevTools-protocol additions: the page's CSP does not apply to them.
  await page.exposeBinding('__payspeakerCspViolation', (_source, v: CspViolation) => {
    problems.cspViolations.push(v);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const report = (window as unknown as Record<string, (v: CspViolation) => void>).__payspeakerCspViolation;
      report?.({ directive: e.effectiveDirective, blocked: e.blockedURI, source: `${e.sourceFile}:${e.lineNumber}` });
    });
  });
  await page.goto(url, { waitUntil: 'load' });
  if (opts.waitFor) await page.waitForSelector(opts.waitFor);
  return {
    page,
    context,
    problems,
    assertClean: () => {
      const lines = [
        ...problems.consoleErrors.map((e) => `console error: ${e}`),
        ...problems.pageErrors.map((e) => `uncaught: ${e}`),
        ...problems.cspViolations.map((v) => `CSP violation: ${v.directive} blocked ${v.blocked} (${v.source})`),
        ...problems.thirdParty.map((u) => `third-party request: ${u}`),
      ];
      if (lines.length) throw new Error(`the page at ${url} had ${lines.length} problem(s):\n  ${lines.join('\n  ')}`);
    },
    close: () => context.close(),
  };
}

export interface AxeViolation {
  id: string;
  impact: 'serious' | 'critical';
  help: string;
  helpUrl: string;
  /** CSS selectors of the offending elements. */
  targets: string[];
}

/**
 * Runs axe-core on the page as it is now and returns the serious and critical violations.
 * axe is evaluated through DevTools rather than added as a <script> tag (`addScriptTag` inlines
 * it): the console's CSP blocks inline script, and the test must not bend the policy it checks.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(fs.readFileSync(AXE, 'utf8'));
  const found = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run()).violations;
  });
  return (found as (Omit<AxeViolation, 'targets' | 'impact'> & { impact: string; nodes: { target: string[] }[] })[])
    .filter(
      (v): v is typeof v & { impact: AxeViolation['impact'] } => v.impact === 'serious' || v.impact === 'critical',
    )
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      targets: v.nodes.flatMap((n) => n.target.map(String)),
    }));
}

/** Saves a full-page PNG as test-output/screenshots/NAME.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
