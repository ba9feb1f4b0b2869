import { useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';


/** `GET /api/v1/internal/auth/me`: who the session belongs to. */
export function getMe() {
  return data(api.GET('/api/v1/internal/auth/me'));
}

export function useMe() {
  return useQuery({ queryKey: queryKeys.me, queryFn: getMe, meta: { what: 'Loading your account' } });
}
