import { afterEach, describe, expect, it } from 'vitest';
import { QueryClientProvider } from '@tanstack/react-query';
import { MemoryRouter, Route, Routes } from 'react-router';
import { createQueryClient } from '@lib/api/queryClient';
import { reply, stubFetch } from '../../../test/fetchStub';
import { click, render, settle, type } from '../../../test/render';
import { NewRolloutForm } from './RolloutsPage';

const server = stubFetch();
let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

function setup() {
  const r = render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter initialEntries={['/rollouts']}>
        <Routes>
          <Route path="/rollouts" element={<NewRolloutForm />} />
          <Route path="/rollouts/:id" element={<p>opened</p>} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  cleanup = r.unmount;
  const input = (label: string) => r.container.querySelector(`[aria-label="${label}"]`) as HTMLInputElement;
  return {
    container: r.container,
    input,
    submit: () => click(r.container.querySelector('button[type="submit"]')),
    alert: () => r.container.querySelector('[role="alert"]')?.textContent ?? null,
    fieldErrors: () => Array.from(r.container.querySelectorAll('.field-error')).map((e) => e.textContent),
  };
}

/** Types into a React-controlled input. */
describe('NewRolloutForm', () => {
  it('says what is wrong before sending anything', async () => {
    const f = setup();
    type(f.input('Waves (cumulative %)'), '50, 20');
    await f.submit();
    expect(f.fieldErrors()).toEqual([
      'name at least one feature or setting to change',
      'at least one orchestrator id',
      'each wave must be above the one before',
    ]);
    expect(f.alert()).toBe('Correct the fields marked above.');
    expect(server.calls).toHaveLength(0);
  });

  it('posts the rollout and opens it', async () => {
    const f = setup();
    server.replyOnce(reply(201, { success: true, data: { rollout: { id: 'ro_1' }, targets: {} } }));
    type(f.input('Feature 1 key'), 'beta');
    type(f.input('Orchestrator ids (comma-separated)'), 'a, b');
    type(f.input('Failure threshold (%)'), '0');
    await f.submit();
    await settle();
    const [call] = server.calls;
    expect(call.url).toBe('/api/v1/controller/rollouts');
    expect(server.json(call)).toEqual({
      change: { features: { beta: { enabled: true } } },
      selector: { orchestrator_ids: ['a', 'b'] },
      waves: [1, 5, 25, 100],
      failure_threshold_pct: 0,
      wave_timeout_sec: 120,
    });
    expect(f.container.textContent).toContain('opened');
  });

  it("shows the API's refusal (422) in the form", async () => {
    const f = setup();
    server.replyOnce(
      reply(422, { detail: [{ loc: ['body', ''], msg: 'the selector matches no organization', type: 'value_error' }] }),
    );
    type(f.input('Feature 1 key'), 'beta');
    type(f.input('Orchestrator ids (comma-separated)'), 'nobody');
    await f.submit();
    await settle();
    expect(f.alert()).toBe('The rollout was not started: the selector matches no organization');
  });
});
