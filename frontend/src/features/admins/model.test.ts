import { describe, expect, it } from 'vitest';
import { newPasswordProblem, usernameProblem } from './model';

describe('newPasswordProblem', () => {
  it('wants at least 12 characters, counted as characters not bytes', () => {
    expect(newPasswordProblem('old', 'eleven char', 'eleven char')).toMatch(/at least 12/);
    expect(newPasswordProblem('old', 'ééééééééééé', 'ééééééééééé')).toMatch(/at least 12/);
    expect(newPasswordProblem('old', 'éééééééééééé', 'éééééééééééé')).toBeNull();
  });

  it('refuses the current password and two different repetitions', () => {
    expect(newPasswordProblem('twelve chars', 'twelve chars', 'twelve chars')).toMatch(/current/);
    expect(newPasswordProblem('old', 'twelve chars', 'twelve charz')).toMatch(/differ/);
  });

  it('caps the length as the API does', () => {
    const long = 'x'.repeat(1025);
    expect(newPasswordProblem('old', long, long)).toMatch(/at most 1024/);
  });
});

describe('usernameProblem', () => {
  it('accepts what the API accepts and names the rule otherwise', () => {
    expect(usernameProblem('ops.team-1@site_a')).toBeNull();
    expect(usernameProblem('')).toMatch(/required/);
    expect(usernameProblem('a b')).toMatch(/Only letters/);
    expect(usernameProblem('x\nFORGED')).toMatch(/Only letters/);
    expect(usernameProblem('u'.repeat(65))).toMatch(/64/);
    expect(usernameProblem('dev-token')).toMatch(/reserved/);
  });
});
