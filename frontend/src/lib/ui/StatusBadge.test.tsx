import { afterEach, describe, expect, it } from 'vitest';
import type { FleetStatus } from '../api/types';
import { render } from '../../test/render';
import { StatusBadge, statusLabel, statusTone } from './StatusBadge';

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

// A string outside the type too: the badge must not trust the wire blindly.
function badge(status: string | null) {
  const r = render(<StatusBadge status={status as FleetStatus | null} />);
  cleanup = r.unmount;
  return r.container.querySelector('.badge') as HTMLElement;
}

describe('StatusBadge', () => {
  it('shows active in green', () => {
    const b = badge('active');
    expect(b.className).toContain('badge-green');
    expect(b.textContent).toBe('Active');
    expect(b.dataset.status).toBe('active');
  });

  it('shows inactive in gray', () => {
    const b = badge('inactive');
    expect(b.className).toContain('badge-gray');
    expect(b.textContent).toBe('Inactive');
  });

  it('shows independent in red', () => {
    const b = badge('independent');
    expect(b.className).toContain('badge-red');
    expect(b.textContent).toBe('Independent');
  });

  it('shows an unknown status in amber, never as active', () => {
    const b = badge('degraded');
    expect(b.className).toContain('badge-amber');
    expect(b.textContent).toBe('Degraded');
    expect(badgeOfNull()).toBe('Unknown');
  });

  it('maps tones and labels', () => {
    expect(statusTone('active')).toBe('green');
    expect(statusTone('inactive')).toBe('gray');
    expect(statusTone('independent')).toBe('red');
    expect(statusLabel(undefined)).toBe('Unknown');
  });
});

function badgeOfNull() {
  cleanup?.();
  return badge(null).textContent;
}
