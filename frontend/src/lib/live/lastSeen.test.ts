import { describe, expect, it } from 'vitest';
import { watchedKey, watchIds } from './lastSeen';
import { newest } from '../time/format';

describe('watchIds', () => {
  it('polls each id on screen once, until the last component showing it goes', () => {
    const a = watchIds(['o2', 'o1']);
    const b = watchIds(['o1']);
    expect(watchedKey()).toBe('o1,o2');
    a();
    expect(watchedKey()).toBe('o1');
    b();
    expect(watchedKey()).toBe('');
  });
});

describe('newest', () => {
  it('takes the newest time and skips missing ones', () => {
    expect(newest(null, '2026-01-01T00:00:05Z', undefined, '2026-01-01T00:00:03Z')).toBe('2026-01-01T00:00:05Z');
    expect(newest(null, undefined, 'garbage')).toBeNull();
  });
});
