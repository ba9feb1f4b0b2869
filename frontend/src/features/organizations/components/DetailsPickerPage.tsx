import { useDeferredValue, useMemo, useState } from 'react';
import { Link } from 'react-router';
import { StatusBadge } from '@lib/ui/StatusBadge';
import { Empty, ErrorState, Loading, PageHeader } from '@lib/ui/states';
import { useAllOrganizations } from '../api/listOrganizations';
import { matchesSearch } from '../model';

const SHOWN = 50;

/** "Organization Details" in the sidebar: pick an organization to open. */
export function DetailsPickerPage() {
  const orgs = useAllOrganizations();
  const [q, setQ] = useState('');
  const dq = useDeferredValue(q.trim());
  const matches = useMemo(() => (orgs.data ?? []).filter((o) => matchesSearch(o, dq)), [orgs.data, dq]);
  return (
    <>
      <PageHeader
        title="Organization Details"
        subtitle="Settings, features, orchestrator metadata, messages and recent activity of one organization."
      />
      <div className="toolbar" role="search">
        <input
          type="search"
          className="input grow"
          placeholder="Find an organization"
          aria-label="Find an organization"
          value={q}
          onChange={(e) => setQ(e.target.value)}
        />
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
            {matches.slice(0, SHOWN).map((o) => (
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
          {matches.length > SHOWN && (
            <p className="muted small">
              {matches.length - SHOWN} more — refine the search.
            </p>
          )}
        </section>
      )}
    </>
  );
}
