import { describe, expect, it } from 'vitest';
import {
  EMPTY_FORM,
  canAct,
  describeChange,
  describeSelector,
  parseWaves,
  progress,
  toRolloutBody,
  waveLabel,
  type RolloutForm,
} from './model';

const waves = [34, 67, 100];

describe('wave display', () => {
  it('is 1-based while a wave runs', () => {
    expect(waveLabel({ state: 'running', wave: 0, waves, wave_started_at: null })).toBe('wave 1 of 3');
    expect(waveLabel({ state: 'running', wave: 1, waves, wave_started_at: '2026-12-01T00:00:00Z' })).toBe('wave 2 of 3');
  });

  it('says "after wave n" when it paused between two waves', () => {
    expect(waveLabel({ state: 'paused', wave: 1, waves, wave_started_at: null })).toBe('after wave 1 of 3');
    expect(waveLabel({ state: 'paused', wave: 1, waves, wave_started_at: '2026-12-01T00:00:00Z' })).toBe('wave 2 of 3');
  });

  it('never reads past the last wave', () => {
    expect(waveLabel({ state: 'completed', wave: 3, waves, wave_started_at: null })).toBe('3 waves done');
    expect(waveLabel({ state: 'aborted', wave: 3, waves, wave_started_at: null })).toBe('after wave 3 of 3');
    expect(waveLabel({ state: 'running', wave: 5, waves, wave_started_at: 'x' })).toBe('wave 3 of 3');
  });
});

describe('progress', () => {
  const o = {
    waiting: 4,
    pending: 1,
    applying: 1,
    applied: 2,
    failed: 1,
    offline: 1,
    not_reported: 0,
    superseded: 0,
    total: 10,
  };

  it('is the share of targets that finished, with each part apart', () => {
    expect(progress(o)).toEqual({ applied: 20, failed: 10, active: 20, other: 10, done: 40 });
  });

  it('is 0 without targets, not NaN', () => {
    expect(progress({ ...o, waiting: 0, pending: 0, applying: 0, applied: 0, failed: 0, offline: 0, total: 0 }).done).toBe(0);
  });
});

describe('actions by state', () => {
  it('pauses a running rollout, resumes a paused one, aborts either, and nothing after', () => {
    expect(['running', 'paused', 'aborted', 'completed'].map((s) => [canAct(s, 'pause'), canAct(s, 'resume'), canAct(s, 'abort')])).toEqual([
      [true, false, true],
      [false, true, true],
      [false, false, false],
      [false, false, false],
    ]);
  });
});

describe('the create form', () => {
  const form = (over: Partial<RolloutForm>): RolloutForm => ({ ...EMPTY_FORM, ...over });

  it('builds the body: features as {"enabled"}, ids, waves, threshold and timeout', () => {
    const r = toRolloutBody(
      form({
        features: [
          { key: 'beta', on: true },
          { key: ' cache ', on: false },
          { key: '', on: true },
        ],
        ids: 'a, b,,c, a',
        waves: '34, 67,100',
        threshold: '0',
        timeout: '30',
      }),
    );
    expect(r).toEqual({
      ok: true,
      body: {
        change: { features: { beta: { enabled: true }, cache: { enabled: false } } },
        selector: { orchestrator_ids: ['a', 'b', 'c'] },
        waves: [34, 67, 100],
        failure_threshold_pct: 0,
        wave_timeout_sec: 30,
      },
    });
  });

  it('takes settings as a JSON object, a location or all', () => {
    const byLocation = toRolloutBody(form({ features: [], settings: '{"ttl": 60}', selector: 'location', location: ' eu ' }));
    expect(byLocation.ok && byLocation.body.change).toEqual({ settings: { ttl: 60 } });
    expect(byLocation.ok && byLocation.body.selector).toEqual({ location: 'eu' });
    const all = toRolloutBody(form({ features: [{ key: 'beta', on: false }], selector: 'all' }));
    expect(all.ok && all.body.selector).toEqual({ all: true });
    expect(all.ok && all.body.waves).toEqual([1, 5, 25, 100]);
  });

  it('names every field that is wrong', () => {
    const r = toRolloutBody(
      form({ features: [{ key: '', on: true }], settings: '[1]', ids: '', waves: '5, 3', threshold: '101', timeout: '2' }),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual({
      settings: 'must be a JSON object',
      ids: 'at least one orchestrator id',
      waves: 'each wave must be above the one before',
      threshold: 'a whole number from 0 to 100',
      timeout: 'a whole number from 5 to 86400',
    });
  });

  it('wants a change, valid keys and no key twice', () => {
    const none = toRolloutBody(form({ ids: 'a' }));
    expect(!none.ok && none.errors.features).toMatch(/at least one feature or setting/);
    const twice = toRolloutBody(form({ ids: 'a', features: [{ key: 'x', on: true }, { key: 'x', on: false }] }));
    expect(!twice.ok && twice.errors.features).toMatch(/named twice/);
    const bad = toRolloutBody(form({ ids: 'a', features: [{ key: 'a b', on: true }] }));
    expect(!bad.ok && bad.errors.features).toMatch(/not a feature key/);
    const json = toRolloutBody(form({ ids: 'a', settings: '{' }));
    expect(!json.ok && json.errors.settings).toBe('is not valid JSON');
    const location = toRolloutBody(form({ features: [{ key: 'x', on: true }], selector: 'location' }));
    expect(!location.ok && location.errors.location).toBe('a location');
  });

  it('parses waves: increasing, ending at 100, at most 10', () => {
    expect(parseWaves('1,5,25,100')).toEqual([1, 5, 25, 100]);
    expect(parseWaves('100')).toEqual([100]);
    expect(parseWaves('50')).toBe('the last wave must be 100');
    expect(parseWaves('')).toMatch(/at least one wave/);
    expect(parseWaves('0,100')).toMatch(/not a percentage/);
    expect(parseWaves('1,2,3,4,5,6,7,8,9,10,100')).toBe('at most 10 waves');
  });
});

describe('descriptions', () => {
  it('says what a rollout changes and targets', () => {
    expect(describeChange({ features: { beta: { enabled: true }, cache: false }, settings: { ttl: 1 } })).toBe(
      'beta on, cache off, settings ttl',
    );
    expect(describeSelector({ all: false, orchestrator_ids: ['a', 'b'] })).toBe('ids a, b');
    expect(describeSelector({ all: true })).toBe('all orchestrators');
    expect(describeSelector({ location: 'eu', labels: { tier: 'gold' } })).toBe('location eu; labels tier=gold');
  });
});
