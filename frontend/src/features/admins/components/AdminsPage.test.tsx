import { afterEach, describe, expect, it } from 'vitest';
import { act } from 'react';
import { QueryClientProvider } from '@tanstack/react-query';
import { createQueryClient } from '@lib/api/queryClient';
import { reply, stubFetch } from '../../../test/fetchStub';
import { byText, click, render } from '../../../test/render';
import { AdminsPage } from './AdminsPage';

const ADMINS = {
  success: true,
  data: {
    total: 2,
    items: [
      { username: 'admin', superadmin: true, created_at: '2026-01-01T00:00:00Z', password_changed_at: '2026-01-01T00:00:00Z', open_sessions: 1 },
      { username: 'ops', superadmin: false, created_at: '2026-01-02T00:00:00Z', password_changed_at: '2026-01-02T00:00:00Z', open_sessions: 0 },
    ],
  },
};

const server = stubFetch();
let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

/** Core as seen by the page: `me` is the signed-in admin; DELETE answers `removal`. */
function serve(me: { username: string; superadmin: boolean }, removal = reply(200, { success: true })) {
  server.respond(({ url, method }) => {
    if (url === '/api/v1/internal/auth/me') return reply(200, { success: true, ...me });
    if (url === '/api/v1/internal/admins' && method === 'GET') return reply(200, ADMINS);
    if (url.startsWith('/api/v1/internal/admins/') && method === 'DELETE') return removal;
    return reply(404, { detail: 'unexpected' });
  });
}

async function setup() {
  const r = render(
    <QueryClientProvider client={createQueryClient()}>
      <AdminsPage />
    </QueryClientProvider>,
  );
  cleanup = r.unmount;
  for (let i = 0; i < 5; i++) await act(async () => await new Promise((res) => setTimeout(res, 0)));
  return r.container;
}

describe('AdminsPage', () => {
  it('lists every admin with its role', async () => {
    serve({ username: 'admin', superadmin: true });
    const page = await setup();
    const rows = page.querySelectorAll('tbody tr');
    expect(Array.from(rows).map((r) => r.getAttribute('data-admin'))).toEqual(['admin', 'ops']);
    expect(rows[0].textContent).toContain('(you)');
    expect(rows[0].textContent).toContain('superadmin');
    expect(rows[1].textContent).toContain('admin');
  });

  it('shows the add form and remove buttons to a superadmin only', async () => {
    serve({ username: 'ops', superadmin: false });
    let page = await setup();
    expect(page.querySelector('[data-testid="add-admin"]')).toBeNull();
    expect(page.querySelector('button[aria-label^="Remove"]')).toBeNull();
    cleanup?.();
    serve({ username: 'admin', superadmin: true });
    page = await setup();
    expect(page.querySelector('[data-testid="add-admin"]')).not.toBeNull();
    expect(page.querySelectorAll('button[aria-label^="Remove"]')).toHaveLength(2);
  });

  it('asks before removing, and shows why the last superadmin stays', async () => {
    serve({ username: 'admin', superadmin: true }, reply(409, { detail: 'the last superadmin cannot be removed' }));
    const page = await setup();
    await click(page.querySelector('button[aria-label="Remove admin"]'));
    const dialog = document.querySelector('[role="alertdialog"]') as HTMLElement;
    expect(dialog.textContent).toContain('Remove admin?');
    await click(byText('Remove admin', dialog, 'button'));
    for (let i = 0; i < 5; i++) await act(async () => await new Promise((res) => setTimeout(res, 0)));
    const deletes = server.calls.filter((c) => c.method === 'DELETE');
    expect(deletes.map((c) => c.url)).toEqual(['/api/v1/internal/admins/admin']);
    expect(document.querySelector('[role="alertdialog"] [role="alert"]')?.textContent).toContain('last superadmin');
  });
});
