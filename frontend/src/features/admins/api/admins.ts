import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';
import type { components } from '@lib/api/schema';


/** `GET /api/v1/internal/admins` */
export function listAdmins() {
  return data(api.GET('/api/v1/internal/admins'));
}

export function useAdmins() {
  return useQuery({ queryKey: queryKeys.admins, queryFn: listAdmins, meta: { what: 'Loading admins' } });
}

export type NewAdmin = components['schemas']['NewAdmin'];

/** `POST /api/v1/internal/admins` (superadmins only; 409 if the name exists). */
export function addAdmin(admin: NewAdmin) {
  return data(api.POST('/api/v1/internal/admins', { body: admin }));
}

/** `DELETE /api/v1/internal/admins/{username}` (never the last admin or superadmin: 409). */
export function removeAdmin(username: string) {
  return data(api.DELETE('/api/v1/internal/admins/{username}', { params: { path: { username } } }));
}

export function useAddAdmin() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: addAdmin,
    meta: { silent: true },
    onSuccess: () => qc.invalidateQueries({ queryKey: queryKeys.admins }),
  });
}

export function useRemoveAdmin() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: removeAdmin,
    meta: { silent: true },
    onSuccess: () => qc.invalidateQueries({ queryKey: queryKeys.admins }),
  });
}
