import { useDeferredValue, useState } from 'react';
import { Link } from 'react-router';
import { StatusBadge } from '@lib/ui/StatusBadge';
import { Empty, ErrorState, Loading, PageHeader } from '@lib/ui/states';
import { SearchInput } from '@lib/ui/toolbar';
import { useOrganizationsPage } from '../api/listOrganizations';

const SHOWN = 50;

/** "Organization Details" in the sidebar: pick an organization to open (the server searches). */
export function DetailsPickerPage() {
  const [q, setQ] = useState('');
  const dq = useDeferredValue(q.trim());
  const orgs = useOrganizationsPage({ ...(dq ? { q: dq } : {}), page: 1, page_size: SHOWN });
  const matches = orgs.data?.items ?? [];
  const more = (orgs.data?.total_items ?? 0) - matches.length;
  return (
    <>
      <PageHeader
        title="Organization Details"
        subtitle="Settings, features, orchestrator metadata, messages and recent activity of one organization."
      />
      <div className="toolbar" role="search">
        <SearchInput label="Find an organization" placeholder="Find an organization" value={q} onChange={setQ} />
      </div>
      {orgs.isPending ? (
        <Loading what="organizations" />
      ) : orgs.isError ? (
        <ErrorState what="organizations" error={orgs.error} onRetry={() => orgs.refetch()} />
      ) : !matches.length ? (
        <Empty>No organization matches.</Empty>
      ) : (
        <section className="card">
          <ul className="pick-list">
            {matches.map((o) => (
              <li key={o.organization_id}>
                <Link to={`/organizations/${encodeURIComponent(o.organization_id)}`}>
                  <span>
                    {o.name || o.organization_id} <span className="muted small mono">{o.organization_id}</span>
                  </span>
                  <StatusBadge status={o.status} size="sm" />
                </Link>
              </li>
            ))}
          </ul>
          {more > 0 && (
            <p className="muted small">
              {more} more — refine the search.
            </p>
          )}
        </section>
      )}
    </>
  );
}
