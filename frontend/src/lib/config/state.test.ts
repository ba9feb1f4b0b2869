import { describe, expect, it } from 'vitest';
import { configState, configStateLabel, configStateTone, hasDrift, revisionLabel, shortHash } from './state';

const desired = { revision: 3, hash: 'aaa', config: { features: {}, settings: {}, policies: {} } };
const cfg = (status: string, hash: string | null, in_sync = false) => ({
  in_sync,
  desired,
  reported: { status, hash },
});

describe('configuration state', () => {
  it('follows the API: not reported, in sync, pending (other content), applying, failed', () => {
    expect(configState(cfg('not_reported', null))).toBe('not_reported');
    expect(configState(cfg('applied', 'aaa', true))).toBe('in_sync');
    expect(configState(cfg('applied', 'bbb'))).toBe('pending');
    expect(configState(cfg('failed', 'bbb'))).toBe('pending');
    expect(configState(cfg('applying', 'aaa'))).toBe('applying');
    expect(configState(cfg('failed', 'aaa'))).toBe('failed');
  });

  it('says "not reporting", never "applied", for an orchestrator that said nothing', () => {
    expect(configStateLabel('not_reported')).toBe('not reporting');
    expect(configStateLabel('in_sync')).toBe('in sync');
    expect(configStateLabel('failed')).toBe('failed');
    expect(configStateTone('not_reported')).toBe('gray');
    expect(configStateTone('in_sync')).toBe('green');
    expect(configStateTone('failed')).toBe('red');
    expect(configStateTone('applying')).toBe('amber');
  });

  it('drift is reported content other than the desired one, not silence', () => {
    expect(hasDrift(cfg('applied', 'bbb'))).toBe(true);
    expect(hasDrift(cfg('failed', 'aaa'))).toBe(false);
    expect(hasDrift(cfg('not_reported', null))).toBe(false);
  });

  it('shortens hashes and names revisions', () => {
    expect(shortHash('0123456789abcdef')).toBe('01234567');
    expect(shortHash(null)).toBe('—');
    expect(revisionLabel(4)).toBe('r4');
    expect(revisionLabel(null)).toBe('—');
  });
});
