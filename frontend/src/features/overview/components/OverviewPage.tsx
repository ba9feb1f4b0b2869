import { Link } from 'react-router';
import { DEFAULT_RATE_WINDOW_SEC, formatRate, useStats, windowLabel } from '@lib/live/statsStore';
import { useLiveStatus } from '@lib/live/LiveProvider';
import { StatusBadge } from '@lib/ui/StatusBadge';
import { Empty, ErrorState, Loading, PageHeader } from '@lib/ui/states';
import { DataTable } from '@lib/ui/DataTable';
import { LastSeenAgo } from '@lib/live/LastSeenAgo';
import { useOverview } from '../api/getOverview';
import { useLiveOrchestrators } from '../api/listLiveOrchestrators';
import { HeartbeatChart } from './HeartbeatChart';

const EDGE_COLUMNS = [
  { label: 'Edge' },
  { label: 'Address' },
  { label: 'Connections', num: true },
  { label: `Received/s (${DEFAULT_RATE_WINDOW_SEC} s avg)`, num: true },
];

function Tile({ label, value, tone, hint, testId }: { label: string; value: number | string | undefined; tone?: string; hint?: string; testId: string }) {
  return (
    <div className={`tile${tone ? ` tile-${tone}` : ''}`} data-testid={testId}>
      <span className="tile-label">{label}</span>
      <span className="tile-value">{value ?? '—'}</span>
      {hint && <span className="tile-hint">{hint}</span>}
    </div>
  );
}

const LIVE_SHOWN = 8;

export function OverviewPage() {
  const overview = useOverview();
  const live = useLiveOrchestrators();
  const { latest, points } = useStats();
  const liveStatus = useLiveStatus();
  const o = overview.data;
  // Core leaves the edges out for a reader without a token (PUBLIC_READ_API).
  const edges = o?.edges ?? [];
  // The stream's figure is newer than the last overview fetch.
  const connected = latest && liveStatus === 'live' ? latest.connected_now : o?.connected_now;

  return (
    <>
      <PageHeader title="Dashboard" subtitle="The fleet right now: every figure is measured by the controller." />
      {overview.isPending ? (
        <Loading what="the overview" />
      ) : overview.isError && !o ? (
        <ErrorState what="the overview" error={overview.error} onRetry={() => overview.refetch()} />
      ) : (
        <section className="tiles" aria-label="Fleet figures">
          <Tile testId="tile-organizations" label="Organizations" value={o?.total_organizations} />
          <Tile testId="tile-active" label="Active orchestrators" value={o?.orchestrators.active} tone="green" />
          <Tile testId="tile-inactive" label="Inactive" value={o?.orchestrators.inactive} tone="gray" />
          <Tile testId="tile-independent" label="Independent" value={o?.orchestrators.independent} tone="red" />
          <Tile testId="tile-connected" label="Connected now" value={connected} hint={`of ${o?.orchestrators.total ?? 0} instances`} />
          <Tile testId="tile-pending" label="Pending messages" value={o?.pending_messages} />
          <Tile testId="tile-edges" label="Edges up" value={latest && liveStatus === 'live' ? latest.edges_up : o?.edges_up} />
        </section>
      )}

      <div className="grid-2-1">
        <section className="card" aria-labelledby="hb-title">
          <div className="card-head">
            <h2 id="hb-title">Heartbeats received per second</h2>
            <span className="pill" data-testid="hb-now" data-value={latest?.received ?? ''}>
              {formatRate(latest?.received)} / s
            </span>
          </div>
          <p className="muted small" data-testid="hb-breakdown">
            {windowLabel(latest)} · processed{' '}
            <strong data-testid="hb-processed" data-value={latest?.processed ?? ''}>
              {formatRate(latest?.processed)}
            </strong>{' '}
            · ignored (independent orchestrators){' '}
            <strong data-testid="hb-ignored" data-value={latest?.ignored ?? ''}>
              {formatRate(latest?.ignored)}
            </strong>
          </p>
          <HeartbeatChart points={points} />
          <p className="muted small">
            Each point is the rate over the {windowLabel(latest).replace(' average', '')} before it, as counted by
            the controller; edges count theirs over the same window (Edges page). Last 2 minutes.
          </p>
        </section>

        <section className="card" aria-labelledby="live-title">
          <div className="card-head">
            <h2 id="live-title">Live orchestrators</h2>
            <span className="pill">{live.data?.total ?? 0} live</span>
          </div>
          {live.isPending ? (
            <Loading what="live orchestrators" />
          ) : live.isError ? (
            <ErrorState what="live orchestrators" error={live.error} />
          ) : !live.data.items.length ? (
            <Empty>No orchestrator is connected.</Empty>
          ) : (
            <ul className="live-list">
              {live.data.items.slice(0, LIVE_SHOWN).map((x) => (
                <li key={x.orchestrator_id}>
                  <div className="live-main">
                    <Link to={`/organizations/${encodeURIComponent(x.organization_id ?? x.orchestrator_id)}`}>
                      {x.name || x.orchestrator_id}
                    </Link>
                    <span className="muted small">
                      ID: {x.orchestrator_id} · via {x.edge_id ?? '—'}
                    </span>
                  </div>
                  <div className="live-side">
                    <StatusBadge status={x.status} size="sm" />
                    <span className="muted small">
                      <LastSeenAgo ids={[x.orchestrator_id]} known={[x.last_keepalive, x.last_seen]} />
                    </span>
                  </div>
                </li>
              ))}
              {live.data.items.length > LIVE_SHOWN && (
                <li className="muted small">
                  and {live.data.items.length - LIVE_SHOWN} more — <Link to="/organizations?status=active">see all</Link>
                </li>
              )}
            </ul>
          )}
        </section>
      </div>

      <section className="card" aria-labelledby="edges-title">
        <div className="card-head">
          <h2 id="edges-title">Edges</h2>
          <Link to="/edges" className="muted-link small">
            Details
          </Link>
        </div>
        {!o ? null : !edges.length ? (
          <Empty>No edge has announced itself in the last 15 s.</Empty>
        ) : (
          <DataTable testId="overview-edges" columns={EDGE_COLUMNS}>
            {edges.map((e) => (
              <tr key={e.edge_id}>
                <td>{e.edge_id}</td>
                <td className="mono">{e.address}</td>
                <td className="num">{e.connections.toLocaleString()}</td>
                <td className="num">{formatRate(e.heartbeats_per_sec)}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>
    </>
  );
}
