// Signing in, the live stream and what it feeds: badges, the overview's figures,
// the heartbeat rate and chart, and "last seen".
import assert from 'node:assert/strict';
import { ORG, STEADY, STEADY_COUNT, STEADY_INTERVAL } from './constants';
import type { Locator } from '@playwright/test';
import { badgeHue, log, sampleFor, shot, test, until } from './fixtures';

// One story: each test starts where the previous one left the fleet.
test.describe.configure({ mode: 'serial' });

test('an anonymous visit goes to the login page; a wrong password is refused', async ({ page, stack, pageConsole }) => {
  pageConsole.allow = /status of 401/; // the refused login's answer, logged by Chromium
  await page.goto(`${stack.core}/organizations`);
  await page.waitForURL(/\/login$/);
  await page.getByRole('heading', { name: 'Sign in to the controller' }).waitFor();
  await shot(page, 'login');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password', { exact: true }).fill('not-the-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Invalid username or password.' }).waitFor();
});

test('logs in through the UI and opens the live stream', async ({ page, stack }) => {
  await page.getByLabel('Password', { exact: true }).fill(stack.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  // Back to where the visit started.
  await page.waitForURL(/\/organizations$/);
  await page.locator('[data-testid="live-indicator"][data-live="live"]').waitFor({ timeout: 5000 });
  assert.equal(await page.getByRole('button', { name: 'Log out' }).isVisible(), true, 'logout in the header');
});

test(`${ORG} appears as active with a green badge`, async ({ page, ui }) => {
  await ui.badgeBecomes(ORG, 'active', 5000);
  assert.equal(await badgeHue(ui.cardBadge(ORG)), 'green');
  // The card's body says the same as its badge.
  assert.equal(await ui.card(ORG).locator('.org-body dd [data-testid="status-badge"]').getAttribute('data-status'), 'active');
  assert.match(await ui.card(ORG).locator('.org-sub').innerText(), /Last seen: (just now|\d+ s ago)/);
  await shot(page, 'organizations');
});

test('the overview shows measured figures, the live heartbeat chart and the edge', async ({ page, ui }) => {
  await ui.nav('Dashboard').click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  const tile = (id: string) => page.locator(`[data-testid="${id}"] .tile-value`);
  await until('organizations = 1', async () => (await tile('tile-organizations').innerText()) === '1');
  assert.equal(await tile('tile-active').innerText(), '1');
  assert.equal(await tile('tile-connected').innerText(), '1');
  assert.equal(await tile('tile-pending').innerText(), '0');
  // stats events arrive every second; the agent beats once a second.
  await until('3 chart points', async () => Number(await page.getByTestId('heartbeat-chart').getAttribute('data-points')) >= 3, 6000);
  await until('heartbeats/s > 0', async () => parseFloat(await page.getByTestId('hb-now').innerText()) > 0, 6000);
  await page.locator('[data-testid="overview-edges"] td', { hasText: 'edge-e2e' }).waitFor({ timeout: 8000 });
  const text = await page.locator('main').innerText();
  for (const invented of [/revenue/i, /\bsales\b/i, /cost/i, /subscriptions/i]) {
    assert.doesNotMatch(text, invented, 'no invented figures');
  }
  await shot(page, 'overview');
});

test('heartbeat rate: a 30 s average within 50 % of the true rate and never 0; Overview and Edges agree', async ({ page, stack, api, ui }) => {
  stack.addAgent(STEADY, { interval: STEADY_INTERVAL, count: STEADY_COUNT });
  const started = Date.now();
  await until(`${STEADY_COUNT} steady agents connected`, async () => {
    const live = await api('GET', '/api/v1/controller/orchestrators/live');
    return live.json.data.total_count === STEADY_COUNT + 1;
  }, 20000, 250);
  // ORG beats every second, the others every STEADY_INTERVAL seconds.
  const truth = 1 + STEADY_COUNT / STEADY_INTERVAL;
  const low = truth * 0.5;
  const high = truth * 1.5;
  const shown = async () => Number(await page.getByTestId('hb-now').getAttribute('data-value'));
  // Core's window is full (30 s) and the rate has reached the band.
  await until(`a 30 s average within ${low}–${high}/s`, async () => {
    const v = await shown();
    const full = /^30 s average/.test(await page.getByTestId('hb-breakdown').innerText());
    return full && v >= low && v <= high;
  }, 45000, 500);
  log(`rate in band ${Date.now() - started} ms after the steady agents started`);
  // Sampled until well after one whole window of the steady agents beating.
  const samples: number[] = [];
  await sampleFor(Math.max(12000, started + 42000 - Date.now()), 500, async () => {
    samples.push(await shown());
  });
  log(`true ${truth}/s; shown ${Math.min(...samples).toFixed(2)}–${Math.max(...samples).toFixed(2)}/s over ${samples.length} samples`);
  assert.ok(samples.every((v) => v > 0), `never 0: ${samples}`);
  assert.ok(samples.every((v) => v >= low && v <= high), `all within ${low}–${high}: ${samples}`);
  assert.match(await page.getByTestId('hb-breakdown').innerText(), /^30 s average · processed .* · ignored \(independent orchestrators\)/);
  assert.equal(Number(await page.getByTestId('hb-ignored').getAttribute('data-value')), 0, 'nobody is independent yet');
  const overviewRate = await shown();
  await shot(page, 'overview-rate');
  await ui.nav('Edges').click();
  const total = page.getByTestId('edges-hb-total');
  await total.waitFor();
  // Edges announce every 5 s; the page polls every 5 s.
  await until('the edges\' total near the Overview\'s figure', async () => {
    const v = parseFloat(await total.innerText());
    return Math.abs(v - overviewRate) <= truth * 0.25;
  }, 12000, 250);
  log(`Overview ${overviewRate.toFixed(2)}/s, Edges ${await total.innerText()}/s`);
});

test(`"last seen" follows the API within ~2 s (agents beating every ${STEADY_INTERVAL} s), and ticks`, async ({ page, stack, api, ui }) => {
  const id = `${STEADY}-0`;
  const apiLastSeen = async () => {
    const r = await api('GET', `/api/v1/controller/orchestrators/live/${id}`);
    return Math.max(Date.parse(r.json.data.last_keepalive ?? 0), Date.parse(r.json.data.last_seen ?? 0));
  };
  const sample = async (where: string, locator: Locator) => {
    await locator.waitFor();
    const samples: { iso: string; text: string; apiT: number }[] = [];
    await sampleFor(12000, 700, async () => {
      const [iso, text] = await locator.evaluate((el) => [el.getAttribute('datetime') ?? '', el.textContent ?? '']);
      samples.push({ iso, text, apiT: await apiLastSeen() });
    });
    for (const { iso, text, apiT } of samples) {
      const lag = apiT - Date.parse(iso);
      const secs = text === 'just now' ? 0 : Number(/^(\d+) s ago$/.exec(text)?.[1] ?? NaN);
      assert.ok(lag <= 2000 + STEADY_INTERVAL * 1000, `${where}: page ${iso} vs API ${new Date(apiT).toISOString()}`);
      assert.ok(secs <= STEADY_INTERVAL + 3, `${where}: "${text}" for an orchestrator beating every ${STEADY_INTERVAL} s`);
    }
    const seen = new Set(samples.map((s) => s.text));
    assert.ok(seen.size >= 3, `${where}: the clock ticks (${[...seen].join(', ')})`);
  };
  await ui.nav('Dashboard').click();
  await sample('overview', page.locator(`.live-list [data-testid="last-seen"][data-ids="${id}"] time`));
  await page.goto(`${stack.core}/organizations/${id}`);
  await sample('details', page.locator(`section[data-orchestrator-id="${id}"] [data-testid="last-seen"] time`));
});

test('after a reload the chart has the last ~2 minutes at once (history from the server)', async ({ page, stack, ui }) => {
  await ui.nav('Dashboard').click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  const uptime = Math.floor((Date.now() - stack.startedAt) / 1000);
  const expected = Math.min(110, uptime - 15);
  assert.ok(expected >= 30, `core has run ${uptime} s, too little to tell history from live points`);
  const t0 = Date.now();
  await page.reload();
  const chart = page.getByTestId('heartbeat-chart');
  await until(`≥ ${expected} points`, async () => Number(await chart.getAttribute('data-points')) >= expected, 3000, 50);
  log(`${await chart.getAttribute('data-points')} points ${Date.now() - t0} ms after the reload (core up ${uptime} s)`);
  await shot(page, 'overview-history');
});

test('the steady agents stop and are deregistered (the checks below count one organization)', async ({ stack, api }) => {
  stack.stopService(`agent-${STEADY}`);
  for (let n = 0; n < STEADY_COUNT; n++) {
    const res = await api('DELETE', `/api/v1/internal/orchestrators/${STEADY}-${n}/deregister`);
    assert.equal(res.status, 200, JSON.stringify(res.json));
  }
  await until('one organization left', async () => (await api('GET', '/api/v1/controller/overview')).json.data.total_organizations === 1);
});
