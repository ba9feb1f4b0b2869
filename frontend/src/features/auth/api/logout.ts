import { useMutation } from '@tanstack/react-query';
import { apiFetch } from '@lib/api/apiFetch';
import type { Done } from '@lib/api/types';

/** `POST /api/v1/internal/auth/logout`: revokes the token. */
export function logout() {
  return apiFetch<Done>('/api/v1/internal/auth/logout', { method: 'POST' });
}

export function useLogout() {
  return useMutation({ mutationFn: logout, meta: { silent: true } });
}
