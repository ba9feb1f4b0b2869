import { describe, expect, it } from 'vitest';
import { formatRate, mergePoints, STATS_WINDOW, toPoint, windowLabel } from './statsStore';

const stat = (t: number, received: number, ignored = 0) => ({
  at: new Date(t).toISOString(),
  t,
  connected_now: 26,
  edges_up: 1,
  heartbeats_per_sec: received - ignored,
  processed_per_sec: received - ignored,
  ignored_per_sec: ignored,
  received_per_sec: received,
  window_sec: 30,
});

describe('toPoint', () => {
  it('keeps received, processed and ignored apart', () => {
    const p = toPoint(stat(1000, 5.2, 1.2));
    expect(p).toMatchObject({ t: 1000, received: 5.2, processed: 4, ignored: 1.2 });
  });
});

describe('mergePoints', () => {
  it('puts the history before live points, once per second, in order', () => {
    const history = [1, 2, 3].map((s) => toPoint(stat(s * 1000, 5)));
    const live = [3, 4].map((s) => toPoint(stat(s * 1000, 6)));
    const merged = mergePoints(live, history);
    expect(merged.map((p) => p.t)).toEqual([1000, 2000, 3000, 4000]);
  });

  it('keeps the last two minutes', () => {
    const many = Array.from({ length: 300 }, (_, s) => toPoint(stat(s * 1000, 5)));
    const merged = mergePoints([], many);
    expect(merged).toHaveLength(STATS_WINDOW);
    expect(merged[0].t).toBe((300 - STATS_WINDOW) * 1000);
  });
});

describe('formatRate and windowLabel', () => {
  it('prints rates with one decimal under 10', () => {
    expect(formatRate(5.2)).toBe('5.2');
    expect(formatRate(0)).toBe('0.0');
    expect(formatRate(12.4)).toBe('12');
    expect(formatRate(18_200.4)).toBe('18,200');
    expect(formatRate(undefined)).toBe('—');
    expect(formatRate(Number.NaN)).toBe('—');
  });

  it('names the averaging window, shorter just after the controller started', () => {
    expect(windowLabel({ window_sec: 30 })).toBe('30 s average');
    expect(windowLabel({ window_sec: 7.4 })).toBe('7 s average');
    expect(windowLabel(null)).toBe('30 s average');
  });
});
