import { useMutation } from '@tanstack/react-query';
import { apiFetch } from '@lib/api/apiFetch';
import type { PasswordChanged } from '@lib/api/types';


/**
 * `POST /api/v1/internal/auth/password`: needs the current password (a wrong one
 * is a 422 on `current_password`); this session stays, the others end.
 */
export function changePassword(current_password: string, new_password: string) {
  return apiFetch<PasswordChanged>('/api/v1/internal/auth/password', {
    method: 'POST',
    body: { current_password, new_password },
  });
}

export function useChangePassword() {
  return useMutation({
    mutationFn: ({ current, next }: { current: string; next: string }) => changePassword(current, next),
    // The form shows the error itself.
    meta: { silent: true },
  });
}
