import { describe, expect, it } from 'vitest';
import { featureOn, featureValue, isSwitchable } from './model';

describe('features', () => {
  it('shows a switch for booleans and for {"enabled": bool}', () => {
    for (const v of [undefined, null, true, false, { enabled: true }, { enabled: false, ttl: 60 }]) {
      expect(isSwitchable(v), JSON.stringify(v)).toBe(true);
    }
    for (const v of [{ ttl: 60 }, 'on', 3, [true], { enabled: 'yes' }]) {
      expect(isSwitchable(v), JSON.stringify(v)).toBe(false);
    }
  });

  it('reads both shapes', () => {
    expect(featureOn(true)).toBe(true);
    expect(featureOn({ enabled: true })).toBe(true);
    expect(featureOn({ enabled: false })).toBe(false);
    expect(featureOn(undefined)).toBe(false);
  });

  it('writes the canonical shape, keeping the other keys', () => {
    expect(featureValue(true, false)).toEqual({ enabled: false });
    expect(featureValue(undefined, true)).toEqual({ enabled: true });
    expect(featureValue({ enabled: false, ttl: 60 }, true)).toEqual({ enabled: true, ttl: 60 });
  });
});
