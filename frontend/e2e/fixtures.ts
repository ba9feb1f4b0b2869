// What every spec shares: one browser page that stays signed in from file to file
// (the specs are one story, see playwright.config.ts), the stack that global-setup
// started, the REST API with an admin token, and the console errors seen so far.
import { expect, test as base, type Locator, type Page } from '@playwright/test';
import { join } from 'node:path';
import { CHANGED_PASSWORD, LIVE_MS, OUT, VIEWER_TZ } from './constants';
import { attachStack } from './stack.mjs';

/** What global-setup passes on in MOOLAI_E2E_STACK. */
interface StackInfo {
  core: string;
  /** edge-e2e, which lets the made-up ids of the agents connect without a token. */
  edge: string;
  /** edge-tokens, which requires orchestrator tokens (the default of real edges). */
  tokenEdge: string;
  database: string;
  dir: string;
  username: string;
  password: string;
  /** An admin session for the API calls the tests make from node. */
  token: string;
  /** When the stack started (ms since the epoch), for the chart-history check. */
  startedAt: number;
}
type Stack = ReturnType<typeof attachStack<StackInfo>>;

/** Console errors of the page, and the ones the running test expects. */
export interface PageConsole {
  errors: string[];
  allow: RegExp | null;
}

interface Shared {
  page: Page;
  stack: Stack;
  api: Api;
  pageConsole: PageConsole;
}

export interface ApiAnswer {
  status: number;
  // The tests read the answers' fields as the API documents them.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}
export interface Api {
  (method: string, path: string, body?: unknown): Promise<ApiAnswer>;
  /** After a password change ends this session. */
  setToken(token: string): void;
}

function makeApi(core: string, first: string): Api {
  let token = first;
  const api = (async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${core}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json };
  }) as Api;
  api.setToken = (t) => {
    token = t;
  };
  return api;
}

interface PerTest {
  page: Page;
  ui: ReturnType<typeof makeUi>;
  stack: Stack;
  api: Api;
  pageConsole: PageConsole;
  afterEach: void;
}

export const test = base.extend<PerTest, { shared: Shared }>({
  shared: [
    async ({ browser }, use, workerInfo) => {
      const info = JSON.parse(process.env.MOOLAI_E2E_STACK ?? 'null') as StackInfo | null;
      if (!info) throw new Error('MOOLAI_E2E_STACK is not set: run through playwright.config.ts (global setup)');
      const context = await browser.newContext({
        viewport: { width: 1280, height: 900 },
        timezoneId: VIEWER_TZ,
        locale: 'en-US',
      });
      const page = await context.newPage();
      page.setDefaultTimeout(5000);
      const pageConsole: PageConsole = { errors: [], allow: null };
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        const text = `${m.text()} ${m.location()?.url ?? ''}`;
        if (pageConsole.allow?.test(text)) return;
        pageConsole.errors.push(text);
      });
      page.on('pageerror', (e) => pageConsole.errors.push(`pageerror: ${e.message}`));
      // Playwright replaces the worker after a failed test. The first page starts
      // signed out (the first spec logs in through the UI); a replacement signs in
      // at once, so the later files test their own pages rather than the login.
      const api = makeApi(info.core, info.token);
      if (workerInfo.workerIndex > 0) {
        // 04 changes the password: whichever one logs in now, with a fresh API session too.
        const { password, token } = await apiLogin(info.core, info.username, info.password);
        api.setToken(token);
        await signIn(page, info.core, info.username, password);
      }
      await use({ page, stack: attachStack(info), api, pageConsole });
      await context.close();
    },
    { scope: 'worker' },
  ],
  page: async ({ shared }: { shared: Shared }, use: (page: Page) => Promise<void>) => use(shared.page),
  ui: async ({ page }, use) => use(makeUi(page)),
  stack: async ({ shared }, use) => use(shared.stack),
  api: async ({ shared }, use) => use(shared.api),
  pageConsole: async ({ shared }, use) => use(shared.pageConsole),
  // After each test: a screenshot when it failed, and no console errors allowed any more.
  afterEach: [
    async ({ shared }, use, testInfo) => {
      await use();
      shared.pageConsole.allow = null;
      if (testInfo.status !== testInfo.expectedStatus) {
        const path = testInfo.outputPath('failure.png');
        await shared.page.screenshot({ path, fullPage: true }).catch(() => {});
        testInfo.attachments.push({ name: 'failure', path, contentType: 'image/png' });
      }
    },
    { auto: true },
  ],
});

export { expect };

/**
 * Logs in through the API with the stack's first password or the one 04 sets,
 * whichever works now: that password and a fresh token.
 */
export async function apiLogin(core: string, username: string, first: string): Promise<{ password: string; token: string }> {
  for (const password of [first, CHANGED_PASSWORD]) {
    const res = await fetch(`${core}/api/v1/internal/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    if (res.status === 200) return { password, token: ((await res.json()) as { token: string }).token };
  }
  throw new Error(`neither password logs ${username} in`);
}

/** Signs the page in through the login form. */
export async function signIn(page: Page, core: string, username: string, password: string): Promise<void> {
  await page.goto(`${core}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

/** Waits until `fn` returns something truthy (polled every `every` ms, up to `ms`). */
export async function until<T>(what: string, fn: () => Promise<T>, ms = 5000, every = 100): Promise<void> {
  await expect
    .poll(
      async () => {
        try {
          return Boolean(await fn());
        } catch {
          return false;
        }
      },
      { message: `waiting for ${what}`, timeout: ms, intervals: [every] },
    )
    .toBe(true);
}

/**
 * Calls `sample` every `every` ms until `ms` have passed, paced by expect.poll
 * (no sleeping). `sample` only records: the caller asserts on what it recorded.
 */
export async function sampleFor(ms: number, every: number, sample: () => Promise<void>): Promise<void> {
  const end = Date.now() + ms;
  await expect
    .poll(
      async () => {
        await sample();
        return Date.now() >= end;
      },
      { message: `sampling for ${ms} ms`, timeout: ms + 30_000, intervals: [every] },
    )
    .toBe(true);
}

/** A screenshot of the page as it is once the next frame has painted. */
export async function shot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<void> {
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: opts.fullPage ?? false });
}

/** Locators of the dashboard's parts the specs use often. */
function makeUi(page: Page) {
  const card = (id: string) => page.locator(`article.org-card[data-org-id="${id}"]`);
  return {
    /** A link of the sidebar (the main navigation), not a same-named link in the page. */
    nav: (name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }),
    card,
    cardBadge: (id: string) => card(id).locator('header [data-testid="status-badge"]'),
    /** Waits for the card badge of `id` to read `status`; returns the milliseconds it took. */
    badgeBecomes: async (id: string, status: string, ms = LIVE_MS, t0 = Date.now()) => {
      await page.locator(`article.org-card[data-org-id="${id}"] > header [data-status="${status}"]`).waitFor({ timeout: ms });
      return Date.now() - t0;
    },
    /** Waits until no part of the page says it is loading. */
    settled: () => expect(page.locator('.state-loading')).toHaveCount(0),
  };
}

/** "rgb(74, 222, 128)" → which channel dominates. */
export async function badgeHue(locator: Locator): Promise<string> {
  const color = await locator.evaluate((el) => getComputedStyle(el).color);
  const [r, g, b] = (color.match(/\d+/g) ?? []).map(Number);
  if (g > r + 40 && g > b + 40) return 'green';
  if (r > g + 60 && r > b + 60) return 'red';
  if (Math.max(r, g, b) - Math.min(r, g, b) < 30) return 'gray';
  return `other ${color}`;
}

/** Prints a measurement under the test's line. */
export const log = (s: string) => process.stdout.write(`  # ${s}\n`);
