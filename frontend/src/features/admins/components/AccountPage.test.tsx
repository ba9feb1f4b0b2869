import { afterEach, describe, expect, it } from 'vitest';
import { QueryClientProvider } from '@tanstack/react-query';
import { createQueryClient } from '@lib/api/queryClient';
import { reply, stubFetch } from '../../../test/fetchStub';
import { click, render, settle, type } from '../../../test/render';
import { ChangePasswordForm } from './AccountPage';

const server = stubFetch();
let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

function setup() {
  const r = render(
    <QueryClientProvider client={createQueryClient()}>
      <ChangePasswordForm />
    </QueryClientProvider>,
  );
  cleanup = r.unmount;
  const input = (label: string) => r.container.querySelector(`input[aria-label="${label}"]`) as HTMLInputElement;
  return {
    current: input('Current password'),
    next: input('New password'),
    repeat: input('Repeat the new password'),
    submit: r.container.querySelector('button[type="submit"]'),
    alert: () => r.container.querySelector('[role="alert"]')?.textContent ?? null,
  };
}

/** Types into a React-controlled input. */
describe('ChangePasswordForm', () => {
  it('checks the new password before sending anything', async () => {
    const f = setup();
    type(f.current, 'the current one');
    type(f.next, 'too short');
    type(f.repeat, 'too short');
    await click(f.submit);
    expect(f.alert()).toMatch(/at least 12 characters/);
    type(f.next, 'long enough now');
    type(f.repeat, 'long enough nuw');
    await click(f.submit);
    expect(f.alert()).toMatch(/differ/);
    expect(server.calls).toHaveLength(0);
  });

  it('says so when the current password is wrong, without ending the session', async () => {
    server.reply(
      reply(422, { detail: [{ loc: ['body', 'current_password'], msg: 'is not correct', type: 'value_error' }] }),
    );
    const f = setup();
    type(f.current, 'not the one');
    type(f.next, 'a brand new password');
    type(f.repeat, 'a brand new password');
    await click(f.submit);
    await settle();
    const [call] = server.calls;
    expect(call.url).toBe('/api/v1/internal/auth/password');
    expect(call.method).toBe('POST');
    expect(server.json(call)).toEqual({ current_password: 'not the one', new_password: 'a brand new password' });
    expect(f.alert()).toBe('The current password is not correct.');
    expect(server.lost).not.toHaveBeenCalled();
  });

  it('clears the form once the password is changed', async () => {
    server.reply(reply(200, { success: true, sessions_ended: 2 }));
    const f = setup();
    type(f.current, 'the current one');
    type(f.next, 'a brand new password');
    type(f.repeat, 'a brand new password');
    await click(f.submit);
    await settle();
    expect(server.calls).toHaveLength(1);
    expect(f.alert()).toBeNull();
    expect([f.current.value, f.next.value, f.repeat.value]).toEqual(['', '', '']);
  });
});
