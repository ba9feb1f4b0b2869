import { useDeferredValue, useMemo, useState } from 'react';
import { useSearchParams } from 'react-router';
import { Empty, ErrorState, Loading, PageHeader, Pager } from '@lib/ui/states';
import { IconPlus } from '@lib/ui/icons';
import { useAllOrganizations } from '../api/listOrganizations';
import { groupByOrganization, useAllOrchestrators } from '../api/listOrchestrators';
import { matchesSearch, matchesStatus, type StatusFilter } from '../model';
import { OrganizationCard } from './OrganizationCard';
import { AddOrganizationDialog } from './AddOrganizationDialog';

export const PAGE_SIZE = 20;
const FILTERS: StatusFilter[] = ['all', 'active', 'inactive', 'independent'];

export function OrganizationsPage() {
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const status = (FILTERS.includes(params.get('status') as StatusFilter) ? params.get('status') : 'all') as StatusFilter;
  const page = Math.max(1, Number(params.get('page')) || 1);
  const [adding, setAdding] = useState(false);

  const orgs = useAllOrganizations();
  const instances = useAllOrchestrators();
  const deferredQ = useDeferredValue(q);

  const byOrg = useMemo(() => groupByOrganization(instances.data ?? []), [instances.data]);
  const counts = useMemo(() => {
    const c = { all: 0, active: 0, inactive: 0, independent: 0 };
    for (const o of orgs.data ?? []) {
      c.all++;
      if (o.status === 'active') c.active++;
      else if (o.status === 'independent') c.independent++;
      else c.inactive++;
    }
    return c;
  }, [orgs.data]);
  const filtered = useMemo(
    () => (orgs.data ?? []).filter((o) => matchesStatus(o, status) && matchesSearch(o, deferredQ.trim())),
    [orgs.data, status, deferredQ],
  );
  const pages = Math.max(1, Math.ceil(filtered.length / PAGE_SIZE));
  const current = Math.min(page, pages);
  const shown = filtered.slice((current - 1) * PAGE_SIZE, current * PAGE_SIZE);

  const update = (next: Record<string, string | null>) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) {
      if (v === null || v === '' || (k === 'status' && v === 'all') || (k === 'page' && v === '1')) p.delete(k);
      else p.set(k, v);
    }
    setParams(p, { replace: true });
  };

  const known = (id: string) =>
    !!orgs.data?.some((o) => o.organization_id === id) || byOrg.has(id) || !!instances.data?.some((i) => i.orchestrator_id === id);

  return (
    <>
      <PageHeader
        title="Organizations"
        subtitle="Create, configure, and manage orchestrator instances for organizations."
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setAdding(true)} aria-label="Add New Organization">
            <IconPlus /> Add New Organization
          </button>
        }
      />
      <div className="toolbar" role="search">
        <input
          type="search"
          className="input grow"
          placeholder="Search by ID, name or location"
          aria-label="Search organizations"
          value={q}
          onChange={(e) => update({ q: e.target.value, page: null })}
        />
        <select
          className="input"
          aria-label="Filter by status"
          value={status}
          onChange={(e) => update({ status: e.target.value, page: null })}
        >
          {FILTERS.map((f) => (
            <option key={f} value={f}>
              {f === 'all' ? 'All statuses' : f.charAt(0).toUpperCase() + f.slice(1)} ({counts[f]})
            </option>
          ))}
        </select>
      </div>

      {orgs.isPending ? (
        <Loading what="organizations" />
      ) : orgs.isError && !orgs.data ? (
        <ErrorState what="organizations" error={orgs.error} onRetry={() => orgs.refetch()} />
      ) : !orgs.data.length ? (
        <Empty>No organization yet. Add one, or start an orchestrator: it registers itself when it connects.</Empty>
      ) : !filtered.length ? (
        <Empty>No organization matches {q ? `“${q}”` : 'this filter'}.</Empty>
      ) : (
        <>
          <p className="muted small" aria-live="polite" data-testid="org-count">
            {filtered.length.toLocaleString()} of {orgs.data.length.toLocaleString()} organizations
            {pages > 1 && ` · showing ${(current - 1) * PAGE_SIZE + 1}–${(current - 1) * PAGE_SIZE + shown.length}`}
          </p>
          <div className="org-list">
            {shown.map((o) => (
              <OrganizationCard
                key={o.organization_id}
                org={o}
                instances={byOrg.get(o.organization_id) ?? []}
                instancesLoading={instances.isPending}
                defaultOpen={filtered.length <= 3}
              />
            ))}
          </div>
          <Pager label="Organization pages" page={current} pages={pages} onPage={(p) => update({ page: String(p) })} />
        </>
      )}
      {adding && <AddOrganizationDialog onClose={() => setAdding(false)} exists={known} />}
    </>
  );
}
