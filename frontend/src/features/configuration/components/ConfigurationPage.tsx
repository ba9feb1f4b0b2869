import { Link, useSearchParams } from 'react-router';
import type { FleetCounts } from '@lib/api/types';
import { ConfigStateBadge } from '@lib/config/ConfigStateBadge';
import { CONFIG_STATES, configState, configStateLabel, configStateTone, revisionLabel, type ConfigState } from '@lib/config/state';
import { DataTable, type Column } from '@lib/ui/DataTable';
import { Empty, ErrorState, Loading, PageHeader, Pager } from '@lib/ui/states';
import { FilterSelect } from '@lib/ui/toolbar';
import { Ago } from '@lib/time/Ago';
import { useSetParam } from '@lib/url/useSetParam';
import { useFleetConfig } from '../api/listFleetConfig';

export const PAGE_SIZE = 50;

const COLUMNS: Column[] = [
  { label: 'Orchestrator' },
  { label: 'State' },
  { label: 'Desired' },
  { label: 'Reported' },
  { label: 'Last report' },
  { label: 'Error' },
];

/**
 * The fleet's configuration: how many orchestrators are in sync, applying,
 * failed, pending or not reporting, and the list, filterable by state (`?state=`),
 * each linking to its organization.
 */
export function ConfigurationPage() {
  const [params, setParams] = useSearchParams();
  const setParam = useSetParam();
  // Another state starts at its first page.
  const pick = (next: string) => {
    const p = new URLSearchParams(params);
    p.delete('page');
    if (next) p.set('state', next);
    else p.delete('state');
    setParams(p, { replace: true });
  };
  const raw = params.get('state') ?? '';
  const state = (CONFIG_STATES as readonly string[]).includes(raw) ? (raw as ConfigState) : undefined;
  const page = Math.max(1, Number(params.get('page')) || 1);
  const fleet = useFleetConfig({ ...(state ? { state } : {}), page, page_size: PAGE_SIZE });
  const counts = fleet.data?.counts;
  const list = fleet.data?.orchestrators;

  return (
    <>
      <PageHeader
        title="Configuration"
        subtitle="Whether each orchestrator runs the configuration the controller wants. Change it per organization (Organization Details) or for many at once (Rollouts)."
      />
      <div className="tiles" data-testid="config-counts">
        {CONFIG_STATES.map((s) => (
          <CountTile key={s} state={s} counts={counts} active={state === s} onPick={() => pick(state === s ? '' : s)} />
        ))}
      </div>
      <div className="toolbar">
        <FilterSelect
          label="Filter by configuration state"
          value={state ?? ''}
          allLabel={`All states${counts ? ` (${counts.total})` : ''}`}
          options={CONFIG_STATES.map((s) => ({
            value: s,
            label: `${configStateLabel(s)}${counts ? ` (${counts[s]})` : ''}`,
          }))}
          onChange={pick}
        />
      </div>
      <section className="card" aria-label="Orchestrators by configuration state">
        {fleet.isPending ? (
          <Loading what="the configuration of the fleet" />
        ) : fleet.isError && !fleet.data ? (
          <ErrorState what="the configuration of the fleet" error={fleet.error} onRetry={() => fleet.refetch()} />
        ) : !list?.items.length ? (
          <Empty>{state ? `No orchestrator is ${configStateLabel(state)}.` : 'No orchestrator yet.'}</Empty>
        ) : (
          <>
            <DataTable testId="fleet-config-table" caption="Orchestrators and their configuration" columns={COLUMNS}>
              {list.items.map((c) => (
                <tr key={c.orchestrator_id} data-orchestrator-id={c.orchestrator_id}>
                  <td>
                    <Link to={`/organizations/${encodeURIComponent(c.orchestrator_id)}`} className="mono">
                      {c.orchestrator_id}
                    </Link>
                  </td>
                  <td>
                    <ConfigStateBadge state={configState(c)} size="sm" />
                  </td>
                  <td className="mono">{revisionLabel(c.desired.revision)}</td>
                  <td className="mono">{c.reported.status === 'not_reported' ? '—' : revisionLabel(c.reported.revision)}</td>
                  <td>{c.reported.at ? <Ago iso={c.reported.at} /> : <span className="muted">—</span>}</td>
                  <td className="small">{c.reported.error ?? ''}</td>
                </tr>
              ))}
            </DataTable>
            <Pager
              label="Configuration pages"
              page={Math.min(page, Math.max(1, list.total_pages))}
              pages={Math.max(1, list.total_pages)}
              onPage={(p) => setParam('page', p > 1 ? String(p) : '')}
            />
          </>
        )}
      </section>
    </>
  );
}

function CountTile({
  state,
  counts,
  active,
  onPick,
}: {
  state: ConfigState;
  counts: FleetCounts | undefined;
  active: boolean;
  onPick(): void;
}) {
  return (
    <button
      type="button"
      className={`tile tile-btn tile-${configStateTone(state)}${active ? ' tile-active' : ''}`}
      onClick={onPick}
      aria-pressed={active}
      aria-label={`Show ${configStateLabel(state)}: ${counts ? counts[state] : '…'}`}
      data-state={state}
    >
      <span className="tile-label">{configStateLabel(state)}</span>
      <span className="tile-value" data-testid={`count-${state}`}>
        {counts ? counts[state].toLocaleString() : '…'}
      </span>
    </button>
  );
}
