import { useQuery } from '@tanstack/react-query';
import { apiFetch } from '@lib/api/apiFetch';
import { queryKeys } from '@lib/api/queryKeys';
import type { Me } from '@lib/api/types';


/** `GET /api/v1/internal/auth/me`: who the session belongs to. */
export function getMe() {
  return apiFetch<Me>('/api/v1/internal/auth/me');
}

export function useMe() {
  return useQuery({ queryKey: queryKeys.me, queryFn: getMe, meta: { what: 'Loading your account' } });
}
