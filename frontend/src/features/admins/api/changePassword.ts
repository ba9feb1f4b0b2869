import { useMutation } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';


/**
 * `POST /api/v1/internal/auth/password`: needs the current password (a wrong one
 * is a 422 on `current_password`); this session stays, the others end.
 */
export function changePassword(current_password: string, new_password: string) {
  return data(api.POST('/api/v1/internal/auth/password', { body: { current_password, new_password } }));
}

export function useChangePassword() {
  return useMutation({
    mutationFn: ({ current, next }: { current: string; next: string }) => changePassword(current, next),
    // The form shows the error itself.
    meta: { silent: true },
  });
}
