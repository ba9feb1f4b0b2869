import { afterEach, describe, expect, it, vi } from 'vitest';
import { act } from 'react';
import { QueryClientProvider } from '@tanstack/react-query';
import { MemoryRouter } from 'react-router';
import { createQueryClient } from '@lib/api/queryClient';
import { reply, stubFetch } from '../../../test/fetchStub';
import { click, render, settle, type } from '../../../test/render';
import { AddOrganizationDialog } from './AddOrganizationDialog';

const TOKEN = 'mo1.org-9.1.c2lnbmF0dXJl';
const page = () => ({ items: [], total_items: 0, page: 1, page_size: 1, total_pages: 0 });

const server = stubFetch();
let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

/** The API as the dialog meets it: `id` is free, the edges are up, register answers `token`. */
function answer(token: string | null) {
  server.respond((call) => {
    const path = call.url.split('?')[0];
    if (path === '/api/v1/controller/organizations' || path === '/api/v1/controller/orchestrators') {
      return reply(200, { success: true, data: page() });
    }
    if (path === '/api/v1/controller/edges') {
      return reply(200, {
        success: true,
        data: {
          edges: [
            { edge_id: 'edge-2', address: '0.0.0.0:8768' },
            { edge_id: 'edge-1', address: '10.0.0.5:8766' },
          ],
          total_count: 2,
        },
      });
    }
    if (path === '/api/v1/internal/orchestrators/register' && call.method === 'POST') {
      const body = server.json(call) as { orchestrator_id: string; organization_id: string };
      return reply(200, {
        success: true,
        message: 'Orchestrator instance registered (inactive until connection)',
        created: true,
        connected: false,
        status: 'inactive',
        orchestrator_id: body.orchestrator_id,
        organization_id: body.organization_id,
        timestamp: new Date().toISOString(),
        orchestrator_token: token,
      });
    }
    return reply(404, { detail: `unexpected ${path}` });
  });
}

async function create(id: string) {
  const onClose = vi.fn();
  const r = render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter>
        <AddOrganizationDialog onClose={onClose} />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  cleanup = r.unmount;
  const dialog = () => document.querySelector('dialog') as HTMLDialogElement;
  type(dialog().querySelector('[aria-label="Organization ID"]') as HTMLInputElement, id);
  await settle();
  await click(dialog().querySelector('button[type="submit"]'));
  await settle();
  const text = (label: string) => dialog().querySelector(`pre[aria-label="${label}"]`)?.textContent ?? null;
  return { onClose, dialog, text };
}

describe('AddOrganizationDialog', () => {
  it('shows the token register answered, the agent command line and the ?token= URL, until Done', async () => {
    answer(TOKEN);
    const { onClose, dialog, text } = await create('org-9');
    expect(dialog().open).toBe(true);
    expect(dialog().querySelector('.dialog-title')?.textContent).toBe('Connect org-9');
    expect(text('orchestrator token')).toBe(TOKEN);
    expect(dialog().querySelector('[data-testid="token-once"]')?.textContent).toContain('Shown only now');
    const host = window.location.hostname;
    expect(text('agent command line')).toBe(
      `moolai-agent --id org-9 --url ws://10.0.0.5:8766/ws,ws://${host}:8768/ws --state-file agent-org-9.json --token ${TOKEN}`,
    );
    expect(text('first-version client settings')).toBe(
      `export ORCHESTRATOR_ID=org-9\nexport CONTROLLER_WS_URL='ws://10.0.0.5:8766/ws?token=${TOKEN}'`,
    );
    expect(dialog().querySelector('[data-testid="token-url-warning"]')?.textContent).toMatch(
      /A token in a URL lands in that client's logs/,
    );

    // Escape (the dialog's cancel) would lose the token: it is ignored here.
    act(() => {
      dialog().dispatchEvent(new Event('cancel', { cancelable: true }));
    });
    expect(onClose).not.toHaveBeenCalled();
    expect(dialog().open).toBe(true);

    await click(dialog().querySelector('button[aria-label="Copy orchestrator token"]'));
    await settle();
    expect(await navigator.clipboard.readText()).toBe(TOKEN);
    expect(dialog().querySelector('button[aria-label="Copy orchestrator token"]')?.textContent).toBe('Copied');

    const done = Array.from(dialog().querySelectorAll('button')).find((b) => b.textContent === 'Done');
    await click(done ?? null);
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it('says so when the controller issues no tokens, and gives the command line without one', async () => {
    answer(null);
    const { onClose, dialog, text } = await create('org-10');
    expect(dialog().querySelector('[data-testid="no-token"]')?.textContent).toContain('No orchestrator token was issued');
    expect(text('orchestrator token')).toBeNull();
    expect(text('agent command line')).not.toContain('--token');
    expect(onClose).not.toHaveBeenCalled();
  });
});
