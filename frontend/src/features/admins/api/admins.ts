import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiFetch } from '@lib/api/apiFetch';
import { queryKeys } from '@lib/api/queryKeys';
import type { AdminAdded, AdminList, AdminRemoved } from '@lib/api/types';


/** `GET /api/v1/internal/admins` */
export function listAdmins() {
  return apiFetch<AdminList>('/api/v1/internal/admins');
}

export function useAdmins() {
  return useQuery({ queryKey: queryKeys.admins, queryFn: listAdmins, meta: { what: 'Loading admins' } });
}

export interface NewAdmin {
  username: string;
  password: string;
  superadmin: boolean;
}

/** `POST /api/v1/internal/admins` (superadmins only; 409 if the name exists). */
export function addAdmin(admin: NewAdmin) {
  return apiFetch<AdminAdded>('/api/v1/internal/admins', { method: 'POST', body: admin });
}

/** `DELETE /api/v1/internal/admins/{username}` (never the last admin or superadmin: 409). */
export function removeAdmin(username: string) {
  return apiFetch<AdminRemoved>(`/api/v1/internal/admins/${encodeURIComponent(username)}`, {
    method: 'DELETE',
  });
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
