import { describe, expect, it } from 'vitest';
import { formatAgo, formatDateTime } from './format';

const NOW = Date.parse('2026-11-22T21:00:00Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

describe('formatAgo', () => {
  it('says never for no time', () => {
    expect(formatAgo(null, NOW)).toBe('never');
    expect(formatAgo(undefined, NOW)).toBe('never');
    expect(formatAgo('', NOW)).toBe('never');
  });

  it('counts seconds under a minute', () => {
    expect(formatAgo(ago(12_000), NOW)).toBe('12 s ago');
    expect(formatAgo(ago(1_000), NOW)).toBe('1 s ago');
    expect(formatAgo(ago(59_999), NOW)).toBe('59 s ago');
  });

  it('says just now under a second and for a clock slightly ahead', () => {
    expect(formatAgo(ago(400), NOW)).toBe('just now');
    expect(formatAgo(ago(-3_000), NOW)).toBe('just now');
  });

  it('switches to minutes, hours and days', () => {
    expect(formatAgo(ago(60_000), NOW)).toBe('1 min ago');
    expect(formatAgo(ago(59 * 60_000), NOW)).toBe('59 min ago');
    expect(formatAgo(ago(2 * 3600_000), NOW)).toBe('2 h ago');
    expect(formatAgo(ago(47 * 3600_000), NOW)).toBe('47 h ago');
    expect(formatAgo(ago(4 * 86400_000), NOW)).toBe('4 d ago');
  });

  it('reads the API timestamp formats (Z and +00:00, microseconds)', () => {
    expect(formatAgo('2026-11-22T20:59:48.123456Z', NOW)).toBe('11 s ago');
    expect(formatAgo('2026-11-22T20:59:48.123456+00:00', NOW)).toBe('11 s ago');
  });

  it('says unknown for garbage', () => {
    expect(formatAgo('yesterday', NOW)).toBe('unknown');
  });
});

describe('formatDateTime', () => {
  it('shows a dash for no time and includes the zone name otherwise', () => {
    expect(formatDateTime(null)).toBe('—');
    expect(formatDateTime('2026-11-22T20:59:48Z')).toMatch(/2026/);
    expect(formatDateTime('2026-11-22T20:59:48Z')).toMatch(/UTC|GMT|[A-Z]{2,5}/);
  });
});
