import { useMemo, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import type { ActivityEntry, Orchestrator } from '@lib/api/types';
import { ApiError } from '@lib/api/errors';
import { StatusBadge } from '@lib/ui/StatusBadge';
import { Empty, ErrorState, Loading, PageHeader } from '@lib/ui/states';
import { MessageItem } from '@lib/messages/MessageItem';
import { LastSeenAgo } from '@lib/live/LastSeenAgo';
import { formatDateTime, formatTime } from '@lib/time/format';
import { useOrganization } from '../api/getOrganization';
import { useOrchestratorsOf } from '../api/listOrchestrators';
import { useOrchestratorMessages } from '../api/listOrchestratorMessages';
import { activityOf, useActivity } from '../api/listActivity';
import { lastSeenOf } from '../model';
import { FeatureToggles } from './FeatureToggles';
import { IndependenceToggle } from './IndependenceToggle';
import { DeleteOrganizationButton } from './DeleteOrganizationButton';
import { EditOrganizationDialog } from './EditOrganizationDialog';
import { Reported } from './Reported';
import { ConfigurationPanel } from './ConfigurationPanel';
import { useSetIndependence } from '../api/setIndependence';

function meta(i: Orchestrator, key: string): string {
  const v = i.metadata?.[key];
  return v === undefined || v === null || v === '' ? '—' : String(v);
}

/**
 * Messages of one instance, or, while it is independent, the notice and how many
 * of its messages are held (not listed, not delivered) until independence ends.
 */
function InstanceMessages({ instance }: { instance: Orchestrator }) {
  // Same field as the badge: `status` reads `independent` when it is.
  const independent = instance.status === 'independent';
  const messages = useOrchestratorMessages(instance.orchestrator_id);
  if (independent) {
    const held = messages.data?.held;
    return (
      <>
        <p className="notice notice-red" data-testid="independent-notice">
          This orchestrator operates independently
        </p>
        <p className="muted small" data-testid="held-count">
          {held === undefined
            ? 'Its messages are held while it is independent.'
            : `${held} message${held === 1 ? ' is' : 's are'} held: not shown and not delivered until its independence ends.`}
        </p>
      </>
    );
  }
  if (messages.isPending) return <Loading what="messages" />;
  if (messages.isError) return <ErrorState what="messages" error={messages.error} onRetry={() => messages.refetch()} />;
  if (!messages.data.messages.length) return <Empty>No messages from or for this orchestrator.</Empty>;
  return (
    <ul className="message-list" aria-label={`Messages of ${instance.orchestrator_id}`}>
      {messages.data.messages.map((m) => (
        <MessageItem key={m.id} message={m} />
      ))}
    </ul>
  );
}

function InstanceCard({ instance }: { instance: Orchestrator }) {
  const setIndependence = useSetIndependence();
  const id = instance.orchestrator_id;
  return (
    <section className="card" aria-labelledby={`inst-${id}`} data-orchestrator-id={id}>
      <div className="card-head">
        <h2 id={`inst-${id}`}>
          Orchestrator <span className="mono">{id}</span>
        </h2>
        <StatusBadge status={instance.status} />
      </div>
      <div className="grid-2">
        <dl className="kv">
          <dt>Version</dt>
          <dd>{meta(instance, 'version')}</dd>
          <dt>Hostname</dt>
          <dd className="mono">{meta(instance, 'hostname')}</dd>
          <dt>IP</dt>
          <dd className="mono">{meta(instance, 'ip')}</dd>
          <dt>Edge</dt>
          <dd>{instance.connected ? (instance.edge_id ?? '—') : 'not connected'}</dd>
        </dl>
        <dl className="kv">
          <dt>Last seen</dt>
          <dd>
            <LastSeenAgo ids={[id]} known={[instance.last_seen, instance.last_keepalive]} />
          </dd>
          <dt>Connected since</dt>
          <dd>{instance.connected ? formatDateTime(instance.connected_at) : '—'}</dd>
          <dt>Health</dt>
          <dd>{instance.health_status}</dd>
          <dt>Privacy mode</dt>
          <dd>{instance.privacy_mode ? 'on' : 'off'}</dd>
        </dl>
      </div>
      <IndependenceToggle
        orchestratorId={id}
        independent={instance.status === 'independent'}
        onToggle={(next) => setIndependence.mutateAsync({ orchestratorId: id, isIndependent: next })}
      />
      <h3 className="section-title">Messages</h3>
      <InstanceMessages instance={instance} />
    </section>
  );
}

function describe(a: ActivityEntry): string {
  const d = a.data;
  const parts: string[] = [];
  if (d.orchestrator_id) parts.push(String(d.orchestrator_id));
  if (d.edge_id) parts.push(`edge ${d.edge_id}`);
  if (d.is_independent !== undefined) parts.push(d.is_independent ? 'independent' : 'supervised');
  if (d.status) parts.push(String(d.status));
  if (d.reason) parts.push(String(d.reason));
  if (d.type) parts.push(String(d.type));
  return parts.join(' · ');
}

export function OrganizationDetailPage() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const [editing, setEditingState] = useState(params.get('edit') === '1');
  const setEditing = (on: boolean) => {
    setEditingState(on);
    // `?edit=1` (the Add dialog links here for an existing id) opens the form once.
    if (!on && params.has('edit')) {
      const p = new URLSearchParams(params);
      p.delete('edit');
      setParams(p, { replace: true });
    }
  };
  const org = useOrganization(id);
  const all = useOrchestratorsOf(id);
  const activity = useActivity();
  const instances = useMemo(() => all.data ?? [], [all.data]);
  const recent = useMemo(
    () =>
      activityOf(
        activity.data ?? [],
        instances.map((i) => i.orchestrator_id),
        id,
      ).slice(0, 25),
    [activity.data, instances, id],
  );

  if (org.isPending) return <Loading what={`organization ${id}`} />;
  if (org.isError) {
    if (org.error instanceof ApiError && org.error.kind === 'not_found') {
      return (
        <>
          <PageHeader title="Organization not found" />
          <Empty>
            There is no organization <code>{id}</code>. <Link to="/organizations">Back to organizations</Link>
          </Empty>
        </>
      );
    }
    return <ErrorState what={`organization ${id}`} error={org.error} onRetry={() => org.refetch()} />;
  }
  const o = org.data;
  return (
    <>
      <PageHeader
        title={o.name || id}
        subtitle={
          <>
            <Link to="/organizations" className="muted-link">
              Organizations
            </Link>{' '}
            / <span className="mono">{id}</span>
          </>
        }
        actions={
          <>
            <StatusBadge status={o.status} />
            <button type="button" className="btn" onClick={() => setEditing(true)} aria-label={`Edit organization ${id}`}>
              Edit
            </button>
            <DeleteOrganizationButton
              organizationId={id}
              name={o.name}
              instanceIds={instances.map((i) => i.orchestrator_id)}
              loading={all.isPending}
              onDeleted={() => navigate('/organizations')}
            />
          </>
        }
      />
      {editing && <EditOrganizationDialog org={o} onClose={() => setEditing(false)} />}
      <div className="grid-2">
        <section className="card" aria-labelledby="org-details">
          <h2 id="org-details">Organization details</h2>
          <dl className="kv">
            <dt>Name</dt>
            <dd data-testid="org-name">
              {o.name || '—'}
              <Reported shown={o.name} reported={o.reported_name} />
            </dd>
            <dt>Status</dt>
            <dd>
              <StatusBadge status={o.status} size="sm" />
            </dd>
            <dt>Location</dt>
            <dd data-testid="org-location">
              {o.location || '—'}
              <Reported shown={o.location} reported={o.reported_location} />
            </dd>
            <dt>Last seen</dt>
            <dd>
              <LastSeenAgo ids={instances.map((i) => i.orchestrator_id)} known={[lastSeenOf(o, instances)]} />
            </dd>
            <dt>Instances</dt>
            <dd>{o.instances ?? instances.length}</dd>
            <dt>Created</dt>
            <dd>{formatDateTime(o.created_at)}</dd>
          </dl>
        </section>
        <section className="card" aria-labelledby="org-features">
          <h2 id="org-features">Feature status</h2>
          <FeatureToggles organizationId={id} features={o.features} />
        </section>
      </div>
      <ConfigurationPanel orchestratorId={id} />
      {all.isPending ? (
        <Loading what="instances" />
      ) : !instances.length ? (
        <Empty>No orchestrator instance is registered for this organization.</Empty>
      ) : (
        instances.map((i) => <InstanceCard key={i.orchestrator_id} instance={i} />)
      )}
      <section className="card" aria-labelledby="org-activity">
        <h2 id="org-activity">Recent activity</h2>
        {activity.isPending ? (
          <Loading what="activity" />
        ) : activity.isError ? (
          <ErrorState what="activity" error={activity.error} />
        ) : !recent.length ? (
          <Empty>Nothing recorded lately (the controller keeps the last 1,000 events of the fleet).</Empty>
        ) : (
          <ol className="activity-list" data-testid="activity-list">
            {recent.map((a, n) => (
              <li key={`${a.timestamp}-${n}`}>
                <time dateTime={a.timestamp} title={formatDateTime(a.timestamp)} className="mono small">
                  {formatTime(a.timestamp)}
                </time>
                <span className={`chip chip-act-${a.type}`}>{a.type}</span>
                <span className="muted small">{describe(a)}</span>
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}
