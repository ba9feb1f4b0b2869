import { useDeferredValue, useState } from 'react';
import { useSearchParams } from 'react-router';
import { Empty, ErrorState, Loading, PageHeader, Pager } from '@lib/ui/states';
import { IconPlus } from '@lib/ui/icons';
import { FilterSelect, SearchInput } from '@lib/ui/toolbar';
import { useOrganizationCounts, useOrganizationsPage } from '../api/listOrganizations';
import { useOrchestratorsOfEach } from '../api/listOrchestrators';
import type { Orchestrator } from '@lib/api/types';
import type { StatusFilter } from '../model';
import { OrganizationCard } from './OrganizationCard';
import { AddOrganizationDialog } from './AddOrganizationDialog';

export const PAGE_SIZE = 20;
/** One empty list for every card still without instances (the cards are memoized). */
const NONE: Orchestrator[] = [];
const FILTERS: StatusFilter[] = ['all', 'active', 'inactive', 'independent'];

/**
 * The organizations, 20 cards a page: the server searches, filters and pages
 * (`q`, `status`, `page`), and each card's instances are asked for by organization.
 */
export function OrganizationsPage() {
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const status = (FILTERS.includes(params.get('status') as StatusFilter) ? params.get('status') : 'all') as StatusFilter;
  const page = Math.max(1, Number(params.get('page')) || 1);
  const [adding, setAdding] = useState(false);

  const deferredQ = useDeferredValue(q.trim());
  const orgs = useOrganizationsPage({
    ...(deferredQ ? { q: deferredQ } : {}),
    ...(status !== 'all' ? { status } : {}),
    page,
    page_size: PAGE_SIZE,
  });
  const counts = useOrganizationCounts();
  const shown = orgs.data?.items ?? [];
  const instances = useOrchestratorsOfEach(shown.map((o) => o.organization_id));
  const matching = orgs.data?.total_items ?? 0;
  const pages = Math.max(1, orgs.data?.total_pages ?? 1);
  const current = Math.min(page, pages);

  const update = (next: Record<string, string | null>) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) {
      if (v === null || v === '' || (k === 'status' && v === 'all') || (k === 'page' && v === '1')) p.delete(k);
      else p.set(k, v);
    }
    setParams(p, { replace: true });
  };

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
        <SearchInput
          label="Search organizations"
          placeholder="Search by ID, name or location"
          value={q}
          onChange={(v) => update({ q: v, page: null })}
        />
        <FilterSelect
          label="Filter by status"
          value={status}
          options={FILTERS.map((f) => ({
            value: f,
            label: `${f === 'all' ? 'All statuses' : f.charAt(0).toUpperCase() + f.slice(1)}${counts.data ? ` (${counts.data[f]})` : ''}`,
          }))}
          onChange={(v) => update({ status: v, page: null })}
        />
      </div>

      {orgs.isPending ? (
        <Loading what="organizations" />
      ) : orgs.isError && !orgs.data ? (
        <ErrorState what="organizations" error={orgs.error} onRetry={() => orgs.refetch()} />
      ) : counts.data?.all === 0 ? (
        <Empty>No organization yet. Add one, or start an orchestrator: it registers itself when it connects.</Empty>
      ) : !shown.length ? (
        <Empty>No organization matches {q ? `“${q}”` : 'this filter'}.</Empty>
      ) : (
        <>
          <p className="muted small" aria-live="polite" data-testid="org-count">
            {matching.toLocaleString()} of {(counts.data?.all ?? matching).toLocaleString()} organizations
            {pages > 1 && ` · showing ${(current - 1) * PAGE_SIZE + 1}–${(current - 1) * PAGE_SIZE + shown.length}`}
          </p>
          <div className="org-list">
            {shown.map((o, i) => (
              <OrganizationCard
                key={o.organization_id}
                org={o}
                instances={instances[i]?.data ?? NONE}
                instancesLoading={instances[i]?.isPending}
                defaultOpen={matching <= 3}
              />
            ))}
          </div>
          <Pager label="Organization pages" page={current} pages={pages} onPage={(p) => update({ page: String(p) })} />
        </>
      )}
      {adding && <AddOrganizationDialog onClose={() => setAdding(false)} />}
    </>
  );
}
