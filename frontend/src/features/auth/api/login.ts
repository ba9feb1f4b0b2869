import { useMutation } from '@tanstack/react-query';
import { apiFetch } from '@lib/api/apiFetch';
import type { LoggedIn } from '@lib/api/types';


/** `POST /api/v1/internal/auth/login`; a 401 here is "Invalid credentials". */
export function login(username: string, password: string) {
  return apiFetch<LoggedIn>('/api/v1/internal/auth/login', {
    method: 'POST',
    body: { username, password },
    auth: false,
  });
}

export function useLogin() {
  return useMutation({
    mutationFn: ({ username, password }: { username: string; password: string }) => login(username, password),
    // The form shows the error itself: no toast.
    meta: { silent: true },
  });
}
