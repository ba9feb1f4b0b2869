/** Shortest password core accepts (`ADMIN_PASSWORD` and the API alike). */
export const MIN_PASSWORD = 12;
export const MAX_PASSWORD = 1024;

/** What is wrong with a new password before it is sent, or null. */
export function newPasswordProblem(current: string, next: string, repeat: string): string | null {
  const length = [...next].length;
  if (length < MIN_PASSWORD) return `The new password needs at least ${MIN_PASSWORD} characters.`;
  if (length > MAX_PASSWORD) return `The new password may have at most ${MAX_PASSWORD} characters.`;
  if (next === current) return 'The new password is the current one.';
  if (next !== repeat) return 'The two new passwords differ.';
  return null;
}

/** What the API accepts as a new admin's name: 1 to 64 of A-Z a-z 0-9 . _ @ - */
export function usernameProblem(name: string): string | null {
  if (!name) return 'A username is required.';
  if (name.length > 64) return 'At most 64 characters.';
  if (!/^[A-Za-z0-9._@-]+$/.test(name)) return 'Only letters, digits and . _ @ - are allowed.';
  if (name === 'dev-token') return 'That name is reserved.';
  return null;
}
