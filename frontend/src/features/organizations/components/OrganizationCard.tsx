import { memo, useId, useState } from 'react';
import { Link } from 'react-router';
import type { Orchestrator, Organization } from '@lib/api/types';
import { StatusBadge } from '@lib/ui/StatusBadge';
import { IconBuilding, IconChevron, IconServer } from '@lib/ui/icons';
import { LastSeenAgo } from '@lib/live/LastSeenAgo';
import { lastSeenOf } from '../model';
import { FeatureToggles } from './FeatureToggles';
import { InstanceRow } from './InstanceRow';
import { DeleteOrganizationButton } from './DeleteOrganizationButton';
import { Reported } from './Reported';

interface Props {
  org: Organization;
  instances: Orchestrator[];
  /** The instance list is still loading: say so rather than "0 registered". */
  instancesLoading?: boolean;
  defaultOpen?: boolean;
}

/**
 * One organization. Its badge and the "Status" line in its body both show
 * `org.status`, the API's one status field (independent wins), so they cannot
 * disagree.
 */
export const OrganizationCard = memo(function OrganizationCard({ org, instances, instancesLoading, defaultOpen }: Props) {
  const [open, setOpen] = useState(!!defaultOpen);
  const bodyId = useId();
  const id = org.organization_id;
  const connected = instances.some((i) => i.connected);
  return (
    <article className="org-card" data-org-id={id} data-status={org.status} aria-labelledby={`${bodyId}-title`}>
      <header className="org-head">
        <button
          type="button"
          className="icon-btn"
          aria-expanded={open}
          aria-controls={bodyId}
          aria-label={`${open ? 'Collapse' : 'Expand'} organization ${id}`}
          onClick={() => setOpen((o) => !o)}
        >
          <IconChevron open={open} />
        </button>
        <span className={`org-icon tone-${org.status}`} aria-hidden="true">
          <IconBuilding />
        </span>
        <div className="org-title">
          <h2 id={`${bodyId}-title`}>
            <Link to={`/organizations/${encodeURIComponent(id)}`}>{org.name || id}</Link>
          </h2>
          <Reported shown={org.name} reported={org.reported_name} />
          <span className="muted small org-sub">
            <span>ID: {id}</span>
            <span data-testid="instance-count">
              <IconServer /> {instancesLoading ? '… registered' : `${instances.length} registered`}
            </span>
            {connected && <span className="live-dot">live</span>}
            <span>
              Last seen: <LastSeenAgo ids={instances.map((i) => i.orchestrator_id)} known={[lastSeenOf(org, instances)]} />
            </span>
          </span>
        </div>
        <StatusBadge status={org.status} />
        <DeleteOrganizationButton
          organizationId={id}
          name={org.name}
          instanceIds={instances.map((i) => i.orchestrator_id)}
          loading={instancesLoading}
        />
      </header>
      {open && (
        <div id={bodyId} className="org-body">
          <section className="org-section">
            <h3>Organization details</h3>
            <dl className="kv">
              <dt>ID</dt>
              <dd className="mono">{id}</dd>
              <dt>Name</dt>
              <dd data-testid="org-name">
                {org.name}
                <Reported shown={org.name} reported={org.reported_name} />
              </dd>
              <dt>Location</dt>
              <dd data-testid="org-location">
                {org.location || '—'}
                <Reported shown={org.location} reported={org.reported_location} />
              </dd>
              <dt>Status</dt>
              <dd>
                <StatusBadge status={org.status} size="sm" />
              </dd>
            </dl>
          </section>
          <section className="org-section">
            <h3>Features</h3>
            <FeatureToggles organizationId={id} features={org.features} />
          </section>
          <section className="org-section org-instances">
            <h3>Instances</h3>
            {instancesLoading ? (
              <p className="muted small">Loading instances…</p>
            ) : instances.length ? (
              <ul className="instance-list">
                {instances.map((i) => (
                  <InstanceRow key={i.orchestrator_id} instance={i} />
                ))}
              </ul>
            ) : (
              <p className="muted small">No orchestrator instance is registered for this organization.</p>
            )}
          </section>
        </div>
      )}
    </article>
  );
});
