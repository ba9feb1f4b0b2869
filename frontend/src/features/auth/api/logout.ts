import { useMutation } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';

/** `POST /api/v1/internal/auth/logout`: revokes the token. */
export function logout() {
  return data(api.POST('/api/v1/internal/auth/logout'));
}

export function useLogout() {
  return useMutation({ mutationFn: logout, meta: { silent: true } });
}
