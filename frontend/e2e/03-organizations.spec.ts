// Adding, editing, deleting and finding organizations; keyboard and labels; the
// Logs, Edges and Details pages; the narrow layout; and no console errors so far.
import assert from 'node:assert/strict';
import { LIVE_MS, NEW_ORG, ORG } from './constants';
import { badgeHue, shot, test, until } from './fixtures';

// One story: each test starts where the previous one left the fleet.
test.describe.configure({ mode: 'serial' });

test('"Add New Organization" registers it; it is listed inactive with a gray badge', async ({ page, api, ui }) => {
  await ui.nav('Organizations').click();
  await page.getByRole('button', { name: 'Add New Organization' }).click();
  const dialog = page.getByRole('dialog', { name: 'Add New Organization' });
  await dialog.waitFor();
  // An id that exists is refused (the API's register would overwrite it).
  await dialog.getByLabel('Organization ID').fill(ORG);
  await dialog.getByRole('button', { name: 'Create organization' }).click();
  await dialog.getByText(`An organization with ID ${ORG} already exists.`).waitFor();
  const hint = dialog.getByTestId('edit-existing');
  assert.match(await hint.innerText(), /To change its name or location, edit it on its Details page/);
  assert.equal(await hint.getByRole('link').getAttribute('href'), `/organizations/${ORG}?edit=1`);
  await dialog.getByLabel('Organization ID').fill(NEW_ORG);
  await dialog.getByLabel('Name').fill('Demo Organization');
  await dialog.getByLabel('Location').fill('live-demo');
  const t0 = Date.now();
  await dialog.getByRole('button', { name: 'Create organization' }).click();
  await dialog.waitFor({ state: 'detached' });
  await ui.badgeBecomes(NEW_ORG, 'inactive', LIVE_MS, t0);
  assert.equal(await badgeHue(ui.cardBadge(NEW_ORG)), 'gray');
  assert.match(await ui.card(NEW_ORG).innerText(), /Demo Organization/);
  const org = await api('GET', `/api/v1/controller/organizations/${NEW_ORG}`);
  assert.equal(org.status, 200);
  assert.equal(org.json.data.location, 'live-demo');
});

test('what the admin typed stays when the orchestrator connects and announces other values; the Edit form saves', async ({ page, stack, api, ui }) => {
  stack.addAgent(NEW_ORG, { name: 'Agent Announced Name', location: 'agent-lab' });
  await ui.badgeBecomes(NEW_ORG, 'active', 10000);
  await until('reported values in the API', async () => {
    const o = (await api('GET', `/api/v1/controller/organizations/${NEW_ORG}`)).json.data;
    return o.reported_name === 'Agent Announced Name' && o.reported_location === 'agent-lab';
  });
  const o = (await api('GET', `/api/v1/controller/organizations/${NEW_ORG}`)).json.data;
  assert.equal(o.name, 'Demo Organization');
  assert.equal(o.location, 'live-demo');
  const expand = ui.card(NEW_ORG).getByRole('button', { name: `Expand organization ${NEW_ORG}` });
  if (await expand.count()) await expand.click();
  await until('the card shows the reported name', async () => /reported as “Agent Announced Name”/.test(await ui.card(NEW_ORG).innerText()));
  assert.match(await ui.card(NEW_ORG).locator('h2').innerText(), /^Demo Organization$/);
  assert.match(await ui.card(NEW_ORG).getByTestId('org-location').innerText(), /^live-demo\s*reported as “agent-lab”$/);
  await shot(page, 'organizations-reported');
  await ui.card(NEW_ORG).getByRole('link', { name: 'Demo Organization' }).click();
  await page.waitForURL(new RegExp(`/organizations/${NEW_ORG}$`));
  const details = page.locator('section[aria-labelledby="org-details"]');
  await details.waitFor();
  assert.match(await details.getByTestId('org-name').innerText(), /^Demo Organization\s*reported as “Agent Announced Name”$/);
  assert.match(await details.getByTestId('org-location').innerText(), /^live-demo\s*reported as “agent-lab”$/);
  await page.getByRole('button', { name: `Edit organization ${NEW_ORG}` }).click();
  const form = page.getByRole('dialog', { name: `Edit ${NEW_ORG}` });
  await form.getByLabel('Location').fill('live-demo-2');
  await form.getByRole('button', { name: 'Save organization' }).click();
  await form.waitFor({ state: 'detached' });
  await details.getByTestId('org-location').filter({ hasText: /^live-demo-2/ }).waitFor({ timeout: LIVE_MS });
  assert.equal((await api('GET', `/api/v1/controller/organizations/${NEW_ORG}`)).json.data.location, 'live-demo-2');
  await shot(page, 'details-reported');
  await ui.nav('Organizations').click();
});

test('deleting an organization asks first, then it is gone', async ({ page, stack, api, ui }) => {
  await ui.card(NEW_ORG).getByRole('button', { name: `Delete organization ${NEW_ORG}` }).click();
  const dialog = page.getByRole('alertdialog');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /cannot be undone/);
  assert.match(
    await dialog.getByTestId('deregister-reconnect').innerText(),
    /If its orchestrator client connects again, it is refused \(close code 4001, “deregistered”\) until the organization is added again\./,
  );
  await shot(page, 'delete-dialog');
  await dialog.getByRole('button', { name: 'Delete organization' }).click();
  await ui.card(NEW_ORG).waitFor({ state: 'detached', timeout: LIVE_MS });
  assert.equal((await api('GET', `/api/v1/controller/organizations/${NEW_ORG}`)).status, 404);
  assert.equal(await ui.card(ORG).count(), 1, 'the other organization stays');
  // Its agent keeps trying and is refused; it is not listed again.
  await until('its reconnect refused', async () => {
    const logs = await api('GET', `/api/v1/internal/logs?q=${encodeURIComponent(`Refusing deregistered orchestrator ${NEW_ORG}`)}&limit=10`);
    return logs.json.data.items.length > 0;
  }, 15000, 250);
  stack.stopService(`agent-${NEW_ORG}`);
  assert.equal((await api('GET', `/api/v1/controller/organizations/${NEW_ORG}`)).status, 404, 'not re-created by its reconnect');
});

test('organizations can be searched and filtered by status', async ({ page, ui }) => {
  await page.getByLabel('Search organizations').fill('no-such-org');
  await page.getByText('No organization matches “no-such-org”.').waitFor();
  await page.getByLabel('Search organizations').fill('e2e-org');
  await ui.card(ORG).waitFor();
  await page.getByLabel('Filter by status').selectOption('independent');
  await page.getByText(/No organization matches/).waitFor();
  await page.getByLabel('Filter by status').selectOption('active');
  await ui.card(ORG).waitFor();
  await page.getByLabel('Search organizations').fill('');
  await page.getByLabel('Filter by status').selectOption('all');
});

test('every control can be reached by keyboard and is labelled', async ({ page, stack, ui }) => {
  // Tab from the search box to the independence switch, open it with Space.
  await page.getByLabel('Search organizations').focus();
  const target = `Independence mode for ${ORG}`;
  let found = false;
  for (let i = 0; i < 40 && !found; i++) {
    await page.keyboard.press('Tab');
    found = (await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))) === target;
  }
  assert.ok(found, `Tab reaches "${target}"`);
  await page.keyboard.press('Space');
  await page.getByRole('alertdialog').waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('alertdialog').waitFor({ state: 'detached' });
  assert.equal(await ui.cardBadge(ORG).getAttribute('data-status'), 'active', 'Escape changed nothing');
  // Every control on these pages has an accessible name.
  for (const path of ['/', '/organizations', `/organizations/${ORG}`, '/messages', '/logs', '/edges', '/details']) {
    await page.goto(`${stack.core}${path}`);
    await page.locator('main h1').waitFor();
    await ui.settled();
    const unnamed = await page.evaluate(() =>
      Array.from(document.querySelectorAll('button, a[href], input, select, textarea, [role="switch"]'))
        .filter((el) => {
          const named =
            el.getAttribute('aria-label') ||
            el.getAttribute('aria-labelledby') ||
            el.getAttribute('title') ||
            ('labels' in el && (el as HTMLInputElement).labels?.length) ||
            (el.textContent ?? '').trim();
          return !named;
        })
        .map((el) => el.outerHTML.slice(0, 120)),
    );
    assert.deepEqual(unnamed, [], `unlabelled controls on ${path}`);
  }
});

test('logs: a query filters the cluster log; live tail can be switched on', async ({ page, stack }) => {
  await page.goto(`${stack.core}/logs`);
  await page.getByTestId('logs-table').waitFor();
  const query = `Registered ${ORG}`;
  await page.getByLabel('Search logs').fill(query);
  await until('only matching log lines', async () => {
    const rows = await page.locator('tr.log-row td.log-msg').allInnerTexts();
    return rows.length > 0 && rows.every((r) => r.toLowerCase().includes(query.toLowerCase()));
  });
  await page.getByLabel('Filter by source').selectOption('persister');
  await until('persister lines', async () => {
    const src = await page.locator('tr.log-row td:nth-child(3)').allInnerTexts();
    return src.length > 0 && src.every((s) => s === 'persister');
  });
  await page.getByLabel('Filter by source').selectOption('');
  await page.getByLabel('Search logs').fill('');
  await page.getByLabel('Filter by level').selectOption('INFO');
  await page.getByRole('switch', { name: 'Live tail' }).click();
  assert.equal(await page.getByRole('switch', { name: 'Live tail' }).getAttribute('aria-checked'), 'true');
  await page.getByText(/live tail, every 2 s/).waitFor();
  await until('the unfiltered INFO lines', async () => (await page.locator('tr.log-row').count()) > 3);
  await shot(page, 'logs');
  await page.getByRole('switch', { name: 'Live tail' }).click();
});

test('edges and organization-details pages show the edge and the organization', async ({ page, ui }) => {
  await ui.nav('Edges').click();
  await page.locator('[data-edge-id="edge-e2e"]').waitFor({ timeout: 8000 });
  await until('edge-e2e has 1 connection', async () => (await page.locator('[data-edge-id="edge-e2e"] td.num').first().innerText()) === '1', 8000);
  // The one core replica is listed, ready, holding the singleton duties.
  const cores = page.getByTestId('cores-table');
  await cores.waitFor({ timeout: 8000 });
  assert.equal(await cores.locator('tbody tr').count(), 1);
  assert.equal(await cores.getByTestId('core-duties').innerText(), 'singleton');
  await shot(page, 'edges');
  await ui.nav('Organization Details').click();
  await page.getByLabel('Find an organization').fill('e2e');
  await page.locator('.pick-list a', { hasText: ORG }).waitFor();
  await shot(page, 'organization-details');
});

test('usable at 390 px: no sideways scrolling, the menu opens the navigation', async ({ page, stack, ui }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of ['/', '/organizations', `/organizations/${ORG}`, '/logs']) {
    await page.goto(`${stack.core}${path}`);
    await page.locator('main h1').waitFor();
    await ui.settled();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `${path} is ${width} px wide at 390 px`);
    if (path === '/') await shot(page, 'overview-390', { fullPage: true });
    if (path === '/organizations') await shot(page, 'organizations-390', { fullPage: true });
  }
  const menu = page.getByRole('button', { name: 'Menu' });
  await menu.click();
  assert.equal(await menu.getAttribute('aria-expanded'), 'true');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Messages' }).click();
  await page.waitForURL(/\/messages$/);
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('no console errors', async ({ pageConsole }) => {
  assert.deepEqual(pageConsole.errors, []);
});
