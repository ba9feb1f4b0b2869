import { useMutation } from '@tanstack/react-query';
import { data, publicApi } from '@lib/api/client';


/** `POST /api/v1/internal/auth/login`; a 401 here is "Invalid credentials". */
export function login(username: string, password: string) {
  // No token, and a 401 here is not a lost session.
  return data(publicApi.POST('/api/v1/internal/auth/login', { body: { username, password } }));
}

export function useLogin() {
  return useMutation({
    mutationFn: ({ username, password }: { username: string; password: string }) => login(username, password),
    // The form shows the error itself: no toast.
    meta: { silent: true },
  });
}
