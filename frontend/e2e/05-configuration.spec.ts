// Configuration as versioned, acknowledged revisions, and staged rollouts: three
// agents, one of which fails any configuration naming `beta`. The organization's
// Configuration panel follows a change to "in sync", a failing one to "failed"
// with the agent's error, and a rollback back to "in sync"; a rollout over the
// three pauses at its failure threshold, resumes and completes; the fleet's
// Configuration page counts and filters them.
import assert from 'node:assert/strict';
import { CFG_AGENTS, CFG_FAILING, FAILING_KEY } from './constants';
import { apiLogin, expect, shot, signIn, test, until, type Api } from './fixtures';

test.describe.configure({ mode: 'serial' });

/** Config reports travel agent → edge → core → persister: allow them some seconds. */
const REPORT_MS = 15_000;

/** Console errors seen before this file: the last test checks only the ones after. */
let errorsBefore = 0;

const configOf = async (api: Api, id: string) =>
  (await api('GET', `/api/v1/controller/orchestrators/${id}/config`)).json.data;

test('signs in again and starts three agents, one failing "beta"; each reports its configuration in sync', async ({ page, stack, api, pageConsole }) => {
  errorsBefore = pageConsole.errors.length;
  // 04 changed the password and logged out (when it ran before this file).
  const { password, token } = await apiLogin(stack.core, stack.username, stack.password);
  api.setToken(token);
  await page.goto(`${stack.core}/`);
  if (!(await page.getByRole('button', { name: 'Log out' }).isVisible())) {
    await signIn(page, stack.core, stack.username, password);
  }
  for (const id of CFG_AGENTS) {
    stack.addAgent(id, { location: 'e2e-cfg', ...(id === CFG_FAILING ? { failKeys: [FAILING_KEY] } : {}) });
  }
  for (const id of CFG_AGENTS) {
    await until(`${id} reports its configuration`, async () => (await configOf(api, id))?.in_sync === true, REPORT_MS);
  }
});

test('organization page: a features change is applied, one naming the failing key fails with its error, a rollback brings "in sync" back', async ({
  page,
  stack,
  api,
  ui,
}) => {
  const id = CFG_FAILING;
  await page.goto(`${stack.core}/organizations/${id}`);
  const panel = page.getByTestId('config-panel');
  const state = panel.locator('.card-head [data-testid="config-state"]');
  await expect(state).toHaveText('in sync');
  await expect(state).toHaveAttribute('data-state', 'in_sync');
  const before = (await configOf(api, id)).desired.revision as number;

  // A change through the feature switch: a new revision, applied.
  await page.getByRole('switch', { name: `Feature cache for ${id}` }).click();
  const applied = before + 1;
  await expect(panel.getByTestId('config-desired-revision')).toHaveText(`r${applied}`);
  await expect(panel.getByTestId('config-reported-revision')).toHaveText(`r${applied}`, { timeout: REPORT_MS });
  await expect(state).toHaveText('in sync');
  await expect(panel.locator(`tr[data-revision="${applied}"] [data-testid="config-state"]`)).toHaveText('applied');

  // A change naming the key the agent fails: failed, with the agent's words.
  const put = await api('PUT', `/api/v1/controller/organizations/${id}/features`, {
    features: { [FAILING_KEY]: { enabled: true } },
  });
  assert.equal(put.status, 200);
  const failing = applied + 1;
  await expect(state).toHaveText('failed', { timeout: REPORT_MS });
  await expect(panel.getByTestId('config-desired-revision')).toHaveText(`r${failing}`);
  await expect(panel.getByTestId('config-error')).toContainText(`applying ${FAILING_KEY} failed`);
  await expect(panel.locator(`tr[data-revision="${failing}"] [data-testid="config-state"]`)).toHaveText('failed');
  await panel.getByText('Effective configuration (as it reported it)').click();
  await expect(panel.locator('pre.json').first()).toBeVisible();
  await shot(page, 'configuration-failed', { fullPage: true });

  // Roll back to the revision that was applied: asks first, then in sync again.
  await panel.getByRole('button', { name: `Roll back to revision ${applied}` }).click();
  const dialog = page.getByRole('alertdialog', { name: `Roll back to r${applied}?` });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Roll back' }).click();
  await expect(dialog).toBeHidden();
  await expect(panel.getByTestId('config-desired-revision')).toHaveText(`r${failing + 1}`);
  await expect(state).toHaveText('in sync', { timeout: REPORT_MS });
  await expect(panel.getByTestId('config-error')).toHaveCount(0);
  await expect(panel.locator(`tr[data-revision="${failing + 1}"]`)).toContainText(`rollback to r${applied}`);
  await ui.settled();
});

test('rollouts: the form checks its fields and shows the API\'s refusal', async ({ page, ui, pageConsole }) => {
  pageConsole.allow = /status of 422/; // the refused rollout's answer, logged by Chromium
  await ui.nav('Rollouts').click();
  await page.getByRole('heading', { name: 'Rollouts', level: 1 }).waitFor();
  const form = page.getByTestId('rollout-form');
  await form.getByLabel('Feature 1 key').fill(FAILING_KEY);
  await form.getByLabel('Waves (cumulative %)').fill('50');
  await form.getByRole('button', { name: 'Start rollout' }).click();
  await expect(form.getByText('the last wave must be 100')).toBeVisible();
  await expect(form.getByText('at least one orchestrator id')).toBeVisible();
  await expect(form.getByRole('alert')).toHaveText('Correct the fields marked above.');

  // Valid in the form, refused by the API (422): said in the form.
  await form.getByLabel('Waves (cumulative %)').fill('100');
  await form.getByRole('radio', { name: 'Location' }).check();
  await form.getByRole('textbox', { name: 'Location' }).fill('nowhere-at-all');
  await form.getByRole('button', { name: 'Start rollout' }).click();
  await expect(form.getByRole('alert')).toHaveText(/The rollout was not started: .*matches no organization/);
});

test('rollout in waves: one failure pauses it with the reason; Resume runs it to completed; targets show applied and failed', async ({
  page,
  api,
  ui,
}) => {
  await ui.nav('Rollouts').click();
  const form = page.getByTestId('rollout-form');
  await form.getByLabel('Feature 1 key').fill(FAILING_KEY);
  await form.getByLabel('Feature 1 state').selectOption('on');
  await form.getByRole('radio', { name: 'Orchestrator ids' }).check();
  await form.getByLabel('Orchestrator ids (comma-separated)').fill(CFG_AGENTS.join(', '));
  await form.getByLabel('Waves (cumulative %)').fill('34, 67, 100');
  await form.getByLabel('Failure threshold (%)').fill('0');
  await form.getByLabel('Wave timeout (s)').fill('30');
  await form.getByRole('button', { name: 'Start rollout' }).click();
  await page.waitForURL(/\/rollouts\/ro_/);
  const rolloutId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');

  // Wave 1 holds the first two by id: e2e-cfg-2 fails, over a threshold of 0 %.
  const summary = page.getByTestId('rollout-summary');
  await expect(summary.getByTestId('rollout-state')).toHaveText('paused', { timeout: REPORT_MS });
  await expect(summary.getByTestId('rollout-reason')).toContainText('failed');
  await expect(summary.getByTestId('rollout-wave')).toContainText('after wave 1 of 3');
  await expect(page.getByRole('button', { name: 'Pause' })).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Abort' })).toBeEnabled();
  const targets = page.getByTestId('targets-table');
  await expect(targets.locator(`tr[data-orchestrator-id="${CFG_FAILING}"] [data-testid="config-state"]`)).toHaveText('failed');
  await expect(targets.locator(`tr[data-orchestrator-id="${CFG_FAILING}"]`)).toContainText(`applying ${FAILING_KEY} failed`);
  await expect(targets.locator(`tr[data-orchestrator-id="${CFG_AGENTS[2]}"] [data-testid="config-state"]`)).toHaveText('waiting');
  await shot(page, 'rollout-paused', { fullPage: true });

  // Resume: the last wave runs, and the rollout completes.
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(summary.getByTestId('rollout-state')).toHaveText('completed', { timeout: REPORT_MS });
  await expect(page.getByRole('button', { name: 'Resume' })).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Abort' })).toBeDisabled();
  for (const id of CFG_AGENTS) {
    await expect(targets.locator(`tr[data-orchestrator-id="${id}"] [data-testid="config-state"]`)).toHaveText(
      id === CFG_FAILING ? 'failed' : 'applied',
    );
  }
  await expect(summary.getByTestId('rollout-counts')).toContainText('2 applied · 1 failed');

  // Filtered by outcome: only the failed one.
  await page.getByLabel('Filter targets by outcome').selectOption('failed');
  await expect(targets.locator('tbody tr')).toHaveCount(1);
  await expect(targets.locator(`tr[data-orchestrator-id="${CFG_FAILING}"]`)).toBeVisible();

  // The list says the same.
  await ui.nav('Rollouts').click();
  const row = page.locator(`[data-testid="rollouts-table"] tr[data-rollout-id="${rolloutId}"]`);
  await expect(row.getByTestId('rollout-state')).toHaveText('completed');
  await expect(row.getByTestId('rollout-wave')).toHaveText('3 waves done');
  const detail = await api('GET', `/api/v1/controller/rollouts/${rolloutId}`);
  assert.equal(detail.json.data.rollout.outcomes.failed, 1);
  await shot(page, 'rollouts', { fullPage: true });
});

test('the Configuration page counts the fleet by state and filters it; a row leads to its organization', async ({ page, api, ui }) => {
  await ui.nav('Configuration').click();
  await page.getByRole('heading', { name: 'Configuration', level: 1 }).waitFor();
  const fleet = (await api('GET', '/api/v1/controller/config?page_size=1')).json.data.counts;
  assert.ok(fleet.failed >= 1, `counts: ${JSON.stringify(fleet)}`);
  await expect(page.getByTestId('count-failed')).toHaveText(String(fleet.failed));
  await page.getByLabel('Filter by configuration state').selectOption('failed');
  await expect(page).toHaveURL(/state=failed/);
  const table = page.getByTestId('fleet-config-table');
  const row = table.locator(`tr[data-orchestrator-id="${CFG_FAILING}"]`);
  await expect(row.getByTestId('config-state')).toHaveText('failed');
  await expect(table.locator(`tr[data-orchestrator-id="${CFG_AGENTS[0]}"]`)).toHaveCount(0);
  await shot(page, 'configuration');
  await row.getByRole('link', { name: CFG_FAILING }).click();
  await page.waitForURL(new RegExp(`/organizations/${CFG_FAILING}$`));
  await expect(page.getByTestId('config-panel').locator('.card-head [data-testid="config-state"]')).toHaveText('failed');
});

test('no console errors in the configuration story', async ({ pageConsole }) => {
  assert.deepEqual(pageConsole.errors.slice(errorsBefore), []);
});
