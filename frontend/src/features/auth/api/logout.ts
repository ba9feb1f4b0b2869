import { useMutation } from '@tanstack/react-query';
import { apiFetch } from '@lib/api/apiFetch';

/** `POST /api/v1/internal/auth/logout`: revokes the token. */
export function logout() {
  return apiFetch<{ success: boolean }>('/api/v1/internal/auth/logout', { method: 'POST' });
}

export function useLogout() {
  return useMutation({ mutationFn: logout, meta: { silent: true } });
}
