import { afterEach, describe, expect, it, vi } from 'vitest';
import { act } from 'react';
import { byText, click, render } from '../../../test/render';
import { IndependenceToggle } from './IndependenceToggle';

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

function setup(independent: boolean, onToggle = vi.fn(() => Promise.resolve())) {
  const r = render(<IndependenceToggle orchestratorId="org-7" independent={independent} onToggle={onToggle} />);
  cleanup = r.unmount;
  const sw = r.container.querySelector('[role="switch"]') as HTMLButtonElement;
  return { sw, onToggle };
}
const dialog = () => document.querySelector('[role="alertdialog"]') as HTMLElement | null;

describe('IndependenceToggle', () => {
  it('is a labelled switch showing the current state', () => {
    const { sw } = setup(false);
    expect(sw.getAttribute('aria-label')).toBe('Independence mode for org-7');
    expect(sw.getAttribute('aria-checked')).toBe('false');
    cleanup?.();
    expect(setup(true).sw.getAttribute('aria-checked')).toBe('true');
  });

  it('asks before switching, and Cancel changes nothing', async () => {
    const { sw, onToggle } = setup(false);
    await click(sw);
    const d = dialog();
    expect(d).not.toBeNull();
    // A native modal dialog: the browser keeps the focus inside and handles Escape.
    expect(d!.tagName).toBe('DIALOG');
    expect((d as HTMLDialogElement).open).toBe(true);
    expect(d!.textContent).toContain('Make org-7 independent?');
    // Cancel has the focus, so a stray Enter does not confirm.
    expect(document.activeElement?.textContent).toBe('Cancel');
    await click(byText('Cancel', d!, 'button'));
    expect(dialog()).toBeNull();
    expect(onToggle).not.toHaveBeenCalled();
  });

  it('switches on after confirmation', async () => {
    const { sw, onToggle } = setup(false);
    await click(sw);
    await click(byText('Enable independence', dialog()!, 'button'));
    expect(onToggle).toHaveBeenCalledTimes(1);
    expect(onToggle).toHaveBeenCalledWith(true);
    expect(dialog()).toBeNull();
  });

  it('asks before switching off too', async () => {
    const { sw, onToggle } = setup(true);
    await click(sw);
    expect(dialog()!.textContent).toContain('Bring org-7 back under supervision?');
    await click(byText('Disable independence', dialog()!, 'button'));
    expect(onToggle).toHaveBeenCalledWith(false);
  });

  it('keeps the dialog open with the error when the change fails', async () => {
    const failing = vi.fn(() => Promise.reject(new Error('persister unavailable')));
    const { sw } = setup(false, failing);
    await click(sw);
    await click(byText('Enable independence', dialog()!, 'button'));
    expect(dialog()).not.toBeNull();
    expect(dialog()!.querySelector('[role="alert"]')!.textContent).toContain('persister unavailable');
  });

  it('closes on Escape (the browser\'s cancel event) without changing anything', async () => {
    const { sw, onToggle } = setup(false);
    await click(sw);
    await act(async () => {
      dialog()!.dispatchEvent(new Event('cancel', { cancelable: true }));
    });
    expect(dialog()).toBeNull();
    expect(onToggle).not.toHaveBeenCalled();
  });
});
