import { describe, expect, it } from 'vitest';
import { POLL_MS, createQueryClient, setStreamDown } from './queryClient';

// The default refetchInterval is what makes the queries on screen poll while the
// event stream is down; queries with their own interval keep theirs.
describe('polling while the event stream is down', () => {
  it('is off while the stream is up, every POLL_MS while it is down, off again once it is back', () => {
    const client = createQueryClient();
    const interval = client.getDefaultOptions().queries?.refetchInterval;
    if (typeof interval !== 'function') throw new Error('the default refetchInterval reads the stream state');
    // The query argument is not consulted: one state for every query.
    const now = () => interval(undefined as never);
    expect(now()).toBe(false);
    setStreamDown(client, true);
    expect(now()).toBe(POLL_MS);
    setStreamDown(client, false);
    expect(now()).toBe(false);
  });
});
