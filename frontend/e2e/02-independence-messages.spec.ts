// Independence mode, feature switches and messages, driven from the UI and from
// the API, with the stream pushing every change to the page.
import assert from 'node:assert/strict';
import { LIVE_MS, ORG, VIEWER_TZ } from './constants';
import { badgeHue, log, shot, test, until } from './fixtures';

// One story: each test starts where the previous one left the fleet.
test.describe.configure({ mode: 'serial' });

test(`independence via the UI asks first, then the badge turns red within ${LIVE_MS} ms`, async ({ page, api, ui }) => {
  await ui.nav('Organizations').click();
  await ui.badgeBecomes(ORG, 'active', 5000);
  await ui.card(ORG).getByRole('switch', { name: `Independence mode for ${ORG}` }).click();
  const dialog = page.getByRole('alertdialog');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), new RegExp(`Make ${ORG} independent\\?`));
  // Cancel changes nothing.
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await ui.cardBadge(ORG).getAttribute('data-status'), 'active');
  await ui.card(ORG).getByRole('switch', { name: `Independence mode for ${ORG}` }).click();
  const t0 = Date.now();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Enable independence' }).click();
  const took = await ui.badgeBecomes(ORG, 'independent', LIVE_MS, t0);
  log(`red badge ${took} ms after confirming`);
  assert.equal(await badgeHue(ui.cardBadge(ORG)), 'red');
  assert.equal(await ui.card(ORG).locator('.org-body dd [data-testid="status-badge"]').getAttribute('data-status'), 'independent');
  const state = await api('GET', `/api/v1/internal/orchestrators/${ORG}/independence`);
  assert.equal(state.json.is_independent, true, 'the API agrees');
});

test('an independent orchestrator\'s messages are hidden behind the notice', async ({ page, ui }) => {
  await ui.card(ORG).getByRole('link', { name: /E2E e2e-org-1/ }).click();
  await page.waitForURL(new RegExp(`/organizations/${ORG}$`));
  await page.getByTestId('independent-notice').waitFor();
  assert.equal(await page.getByTestId('independent-notice').innerText(), 'This orchestrator operates independently');
  assert.equal(await page.getByRole('button', { name: /^Accept message/ }).count(), 0);
  // Times are in the viewer's zone, not the server's UTC.
  const created = await page.locator('dt:text-is("Created") + dd').innerText();
  assert.match(created, /EST|GMT-5/, `created shown in ${VIEWER_TZ}: ${created}`);
});

test(`a change made through the API shows within ${LIVE_MS} ms (pushed, not polled)`, async ({ page, api }) => {
  const header = page.locator('.page-header [data-testid="status-badge"]');
  assert.equal(await header.getAttribute('data-status'), 'independent');
  const t0 = Date.now();
  const res = await api('PUT', `/api/v1/internal/orchestrators/${ORG}/independence`, { is_independent: false });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  await page.locator('.page-header [data-status="active"]').waitFor({ timeout: LIVE_MS });
  log(`green again ${Date.now() - t0} ms after the API call`);
  await page.getByTestId('independent-notice').waitFor({ state: 'detached', timeout: LIVE_MS });
});

test('a feature switch saves the feature and pushes provision_config to the connected orchestrator', async ({ page, api, ui }) => {
  await ui.nav('Organizations').click();
  const provisions = async () =>
    (await api('GET', '/api/v1/internal/activity?type=provision&limit=1000')).json.data.items.filter(
      (a: { data: { orchestrator_id?: string } }) => a.data.orchestrator_id === ORG,
    ).length;
  const before = await provisions();
  const sw = ui.card(ORG).getByRole('switch', { name: `Feature cache for ${ORG}` });
  assert.equal(await sw.getAttribute('aria-checked'), 'false');
  await sw.click();
  await ui.card(ORG).locator(`[role="switch"][aria-label="Feature cache for ${ORG}"][aria-checked="true"]`).waitFor({ timeout: LIVE_MS });
  const org = await api('GET', `/api/v1/controller/organizations/${ORG}`);
  assert.deepEqual(org.json.data.features.cache, { enabled: true }, 'saved in the canonical shape');
  await until('a provision to the orchestrator', async () => (await provisions()) > before, 3000);
  await sw.click();
  await ui.card(ORG).locator(`[role="switch"][aria-label="Feature cache for ${ORG}"][aria-checked="false"]`).waitFor({ timeout: LIVE_MS });
  await ui.card(ORG).getByRole('link', { name: /E2E e2e-org-1/ }).click();
  await page.waitForURL(new RegExp(`/organizations/${ORG}$`));
});

let messageId: string;
const content = `E2E: enable the semantic cache ${Date.now()}`;
test('a message from the orchestrator is accepted in the UI; one sent by the controller is labelled and has no Accept', async ({ page, stack, api }) => {
  // The agent binary sends no messages: the row a `message` frame makes (persister/src/writes.rs).
  messageId = `e2e-msg-${Date.now()}`;
  stack.psql(`INSERT INTO orchestrator_messages
      (id, orchestrator_id, message_type, content, message_metadata, status, created_at, updated_at, source)
    VALUES ('${messageId}', '${ORG}', 'recommendation', '${content}', '{"severity":"medium"}', 'pending', now(), now(), 'orchestrator')`);
  // Created through the API: the controller's own message; its event refreshes the list.
  const res = await api('POST', `/api/v1/internal/orchestrators/${ORG}/messages`, {
    message_type: 'monitoring',
    content: 'E2E: a note from the controller',
  });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const sent = page.locator(`li.message[data-message-id="${res.json.message_id}"]`);
  await sent.waitFor({ timeout: LIVE_MS });
  assert.equal(await sent.getAttribute('data-direction'), 'to_orchestrator');
  assert.equal(await sent.getByTestId('message-direction').innerText(), 'sent by the controller');
  assert.equal(await sent.getByRole('button', { name: /^Accept message/ }).count(), 0, 'no Accept on a controller message');
  const item = page.locator(`li.message[data-message-id="${messageId}"]`);
  await item.waitFor({ timeout: LIVE_MS });
  assert.equal(await item.getByTestId('message-direction').innerText(), 'from the orchestrator');
  assert.equal(await item.getAttribute('data-status'), 'pending');
  await item.getByRole('button', { name: /^Accept message/ }).click();
  await page.locator(`li.message[data-message-id="${messageId}"][data-status="accepted"]`).waitFor({ timeout: LIVE_MS });
  assert.equal(await item.getByTestId('message-status').innerText(), 'accepted');
  const list = await api('GET', `/api/v1/internal/orchestrators/${ORG}/messages`);
  assert.equal(list.json.messages.find((m: { id: string }) => m.id === messageId)?.status, 'accepted', 'the API agrees');
  await page.getByTestId('activity-list').getByText('independence').first().waitFor();
  await shot(page, 'organization-detail', { fullPage: true });
});

test('independence: the log says "Ignoring" at the next heartbeat, messages are held (not listed, 409), then "Processing" and the messages come back', async ({ page, stack, api, ui }) => {
  const switchOf = () => ui.card(ORG).getByRole('switch', { name: `Independence mode for ${ORG}` });
  const logLine = async (text: string, since: number) => {
    await page.goto(`${stack.core}/logs`);
    await page.getByTestId('logs-table').waitFor();
    await page.getByLabel('Search logs').fill(text);
    await page.getByRole('switch', { name: 'Live tail' }).click();
    // ORG beats every second: two intervals, plus the tail's 2 s poll.
    const t0 = Date.now();
    await until(`"${text}" logged after ${new Date(since).toISOString()}`, async () => {
      const stamps = await page.locator('tr.log-row').evaluateAll((rows, t) =>
        rows.filter((r) => r.querySelector('.log-msg')?.textContent?.includes(t)).map((r) => r.getAttribute('data-ts')), text);
      return stamps.some((ts) => ts !== null && Date.parse(ts) >= since);
    }, 2000 + 2000 + 1500, 100);
    log(`"${text}" on the Logs page ${Date.now() - t0} ms after opening it`);
  };

  await ui.nav('Organizations').click();
  await ui.badgeBecomes(ORG, 'active', 5000);
  await switchOf().click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Enable independence' }).click();
  await ui.badgeBecomes(ORG, 'independent');
  const on = Date.now() - 200;
  await logLine(`[C-OCS] Ignoring heartbeat from independent orchestrator ${ORG}`, on);
  await shot(page, 'logs-ignoring');

  const held = await api('POST', `/api/v1/internal/orchestrators/${ORG}/messages`, {
    message_type: 'recommendation',
    content: 'E2E: held while independent',
  });
  assert.equal(held.status, 200, JSON.stringify(held.json));
  assert.equal(held.json.held, true, 'the API says it is held');
  assert.equal(held.json.delivered, false, 'not delivered');
  const listed = await api('GET', '/api/v1/internal/messages');
  assert.ok(!listed.json.messages.some((m: { orchestrator_id: string }) => m.orchestrator_id === ORG), 'no message of ORG listed');
  assert.ok(listed.json.held >= 3, `held counted: ${listed.json.held}`);
  assert.equal((await api('PUT', `/api/v1/internal/messages/${held.json.message_id}/status`, { status: 'accepted' })).status, 409);
  await ui.nav('Messages').click();
  await page.getByTestId('messages-held').filter({ hasText: `${listed.json.held} messages are held` }).waitFor();
  assert.equal(await page.locator(`li.message[data-message-id="${messageId}"]`).count(), 0, 'not on the Messages page');
  await shot(page, 'messages-held');
  await page.goto(`${stack.core}/organizations/${ORG}`);
  await page.getByTestId('independent-notice').waitFor();
  await page.getByTestId('held-count').filter({ hasText: `${listed.json.held} messages are held` }).waitFor();
  assert.equal(await page.locator('li.message').count(), 0, 'no message on the Details page');
  await shot(page, 'details-held', { fullPage: true });

  await ui.nav('Organizations').click();
  await switchOf().click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Disable independence' }).click();
  await ui.badgeBecomes(ORG, 'active');
  const off = Date.now() - 200;
  await logLine(`[C-OCS] Processing heartbeat from orchestrator ${ORG}`, off);
  await ui.nav('Messages').click();
  await page.locator(`li.message[data-message-id="${held.json.message_id}"]`).waitFor();
  assert.equal(await page.getByTestId('messages-held').count(), 0, 'nothing held any more');
});

test(`the Messages page follows an independence change made elsewhere within ${LIVE_MS} ms, without a reload`, async ({ page, api }) => {
  // Where the previous test left it: the Messages page, listing ORG's messages.
  const mine = page.locator(`li.message[data-orchestrator-id="${ORG}"]`).first();
  await mine.waitFor();
  const t0 = Date.now();
  let res = await api('PUT', `/api/v1/internal/orchestrators/${ORG}/independence`, { is_independent: true });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  await page.getByTestId('messages-held').waitFor({ timeout: LIVE_MS });
  await page.locator(`li.message[data-orchestrator-id="${ORG}"]`).first().waitFor({ state: 'detached', timeout: LIVE_MS });
  log(`messages held on screen ${Date.now() - t0} ms after the API call`);
  const t1 = Date.now();
  res = await api('PUT', `/api/v1/internal/orchestrators/${ORG}/independence`, { is_independent: false });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  await page.locator(`li.message[data-orchestrator-id="${ORG}"]`).first().waitFor({ timeout: LIVE_MS });
  await page.getByTestId('messages-held').waitFor({ state: 'detached', timeout: LIVE_MS });
  log(`messages back on screen ${Date.now() - t1} ms after the API call`);
});

test('features: {"cache": {"enabled": true}} from the API is a switch (on), never raw JSON; the switch writes that shape', async ({ api, ui }) => {
  const res = await api('PUT', `/api/v1/controller/organizations/${ORG}/features`, { features: { cache: { enabled: true } } });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  await ui.nav('Organizations').click();
  const on = ui.card(ORG).locator(`[role="switch"][aria-label="Feature cache for ${ORG}"][aria-checked="true"]`);
  await on.waitFor({ timeout: LIVE_MS });
  assert.equal(await ui.card(ORG).locator('.feature-list code').count(), 0, 'no raw JSON');
  await on.click();
  await ui.card(ORG).locator(`[role="switch"][aria-label="Feature cache for ${ORG}"][aria-checked="false"]`).waitFor({ timeout: LIVE_MS });
  const org = await api('GET', `/api/v1/controller/organizations/${ORG}`);
  assert.deepEqual(org.json.data.features.cache, { enabled: false });
});

test('the messages page filters by status and type', async ({ page, ui }) => {
  await ui.nav('Messages').click();
  await page.locator(`li.message[data-message-id="${messageId}"]`).waitFor();
  await shot(page, 'messages');
  await page.getByLabel('Filter by message status').selectOption('pending');
  await until('only pending messages', async () => {
    const statuses = await page.locator('li.message').evaluateAll((l) => l.map((m) => m.getAttribute('data-status')));
    return statuses.length > 0 && statuses.every((st) => st === 'pending');
  });
  assert.equal(await page.locator(`li.message[data-message-id="${messageId}"]`).count(), 0, 'the accepted one is not pending');
  await page.getByLabel('Filter by message status').selectOption('accepted');
  await page.locator(`li.message[data-message-id="${messageId}"]`).waitFor();
  await page.getByLabel('Filter by message type').selectOption('monitoring');
  await page.getByText('No accepted monitoring messages.').waitFor();
});
