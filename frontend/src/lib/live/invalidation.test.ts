import { describe, expect, it } from 'vitest';
import { keysForActivity } from './invalidation';

const has = (keys: readonly (readonly unknown[])[], k: readonly unknown[]) => keys.some((x) => JSON.stringify(x) === JSON.stringify(k));

describe('keysForActivity', () => {
  it('refreshes badges and counts at once on independence, handshake, disconnect, stale', () => {
    for (const type of ['independence', 'handshake', 'disconnect', 'stale', 'registered', 'deregistered', 'organization_deleted']) {
      const { now, slow } = keysForActivity({ timestamp: '', type, data: { orchestrator_id: 'o1' } });
      expect(has(now, ['organizations']), type).toBe(true);
      expect(has(now, ['orchestrators']), type).toBe(true);
      expect(has(now, ['organization']), type).toBe(true);
      expect(has(now, ['overview']), type).toBe(true);
      expect(slow).toEqual([]);
    }
  });

  it('refreshes the message lists on an independence change, which holds or releases them', () => {
    const { now } = keysForActivity({ timestamp: '', type: 'independence', data: { orchestrator_id: 'o1' } });
    expect(has(now, ['messages'])).toBe(true);
    const { now: handshake } = keysForActivity({ timestamp: '', type: 'handshake', data: { orchestrator_id: 'o1' } });
    expect(has(handshake, ['messages'])).toBe(false);
  });

  it('refreshes messages on message events', () => {
    const { now } = keysForActivity({ timestamp: '', type: 'message_created', data: { orchestrator_id: 'o1' } });
    expect(has(now, ['messages'])).toBe(true);
    expect(has(now, ['overview'])).toBe(true);
    expect(has(now, ['organizations'])).toBe(false);
  });

  it('lets keepalives (last_seen only) wait', () => {
    const { now, slow } = keysForActivity({ timestamp: '', type: 'keepalive', data: { orchestrator_id: 'o1' } });
    expect(now).toEqual([['activity']]);
    expect(has(slow, ['orchestrators'])).toBe(true);
  });

  it('refreshes the fleet on a kind it does not know', () => {
    const { now } = keysForActivity({ timestamp: '', type: 'something_new', data: {} });
    expect(has(now, ['organizations'])).toBe(true);
  });
});
