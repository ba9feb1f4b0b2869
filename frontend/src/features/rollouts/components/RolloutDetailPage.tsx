import { useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import type { JsonObject, Rollout } from '@lib/api/types';
import { ApiError } from '@lib/api/errors';
import { ConfigStateBadge } from '@lib/config/ConfigStateBadge';
import { configStateLabel, revisionLabel } from '@lib/config/state';
import { ConfirmDialog } from '@lib/ui/ConfirmDialog';
import { DataTable, type Column } from '@lib/ui/DataTable';
import { Empty, ErrorState, Loading, PageHeader, Pager } from '@lib/ui/states';
import { FilterSelect } from '@lib/ui/toolbar';
import { Ago } from '@lib/time/Ago';
import { formatDateTime } from '@lib/time/format';
import { useSetParam } from '@lib/url/useSetParam';
import { useRollout } from '../api/getRollout';
import { useControlRollout } from '../api/controlRollout';
import { OUTCOMES, canAct, describeChange, describeSelector, waveLabel, type RolloutAction } from '../model';
import { RolloutProgress, RolloutStateBadge } from './RolloutParts';

export const TARGET_PAGE_SIZE = 50;

const TARGET_COLUMNS: Column[] = [
  { label: 'Orchestrator' },
  { label: 'Wave', num: true },
  { label: 'Revision' },
  { label: 'Outcome' },
  { label: 'Error' },
];

/**
 * One rollout: its state, wave and progress, why it paused, Pause / Resume /
 * Abort as its state allows, and its targets with their outcomes (`?outcome=`
 * filters). Refreshed every second while it runs.
 */
export function RolloutDetailPage() {
  const { id = '' } = useParams();
  const [params] = useSearchParams();
  const setParam = useSetParam();
  const rawOutcome = params.get('outcome') ?? '';
  const outcome = (OUTCOMES as readonly string[]).includes(rawOutcome) ? rawOutcome : undefined;
  const page = Math.max(1, Number(params.get('page')) || 1);
  const detail = useRollout(id, { ...(outcome ? { outcome } : {}), page, page_size: TARGET_PAGE_SIZE });

  if (detail.isPending) return <Loading what={`rollout ${id}`} />;
  if (detail.isError && !detail.data) {
    if (detail.error instanceof ApiError && detail.error.kind === 'not_found') {
      return (
        <>
          <PageHeader title="Rollout not found" />
          <Empty>
            There is no rollout <code>{id}</code>. <Link to="/rollouts">Back to rollouts</Link>
          </Empty>
        </>
      );
    }
    return <ErrorState what={`rollout ${id}`} error={detail.error} onRetry={() => detail.refetch()} />;
  }
  const { rollout: r, targets } = detail.data;
  return (
    <>
      <PageHeader
        title={`Rollout ${r.id}`}
        subtitle={
          <>
            <Link to="/rollouts" className="muted-link">
              Rollouts
            </Link>{' '}
            / <span className="mono">{r.id}</span>
          </>
        }
        actions={<RolloutActions rollout={r} />}
      />
      <section className="card" aria-labelledby="rollout-summary" data-testid="rollout-summary">
        <div className="card-head">
          <h2 id="rollout-summary">Progress</h2>
          <RolloutStateBadge state={r.state} />
        </div>
        {r.reason && (
          <p className={`notice${r.state === 'paused' ? ' notice-red' : ''}`} data-testid="rollout-reason">
            {r.state === 'paused' ? 'Paused: ' : ''}
            {r.reason}
          </p>
        )}
        <dl className="kv">
          <dt>Wave</dt>
          <dd data-testid="rollout-wave">
            {waveLabel(r)} <span className="muted small">({r.waves.map((w) => `${w} %`).join(' → ')})</span>
          </dd>
          <dt>Targets</dt>
          <dd>
            <RolloutProgress outcomes={r.outcomes} />
          </dd>
          <dt>Change</dt>
          <dd>{describeChange(r.change as JsonObject)}</dd>
          <dt>Selector</dt>
          <dd>{describeSelector(r.selector as JsonObject)}</dd>
          <dt>Failure threshold</dt>
          <dd>{r.failure_threshold_pct} % of a wave</dd>
          <dt>Wave timeout</dt>
          <dd>{r.wave_timeout_sec} s</dd>
          <dt>Started</dt>
          <dd>
            {formatDateTime(r.created_at)} by {r.created_by}
          </dd>
          <dt>Last change</dt>
          <dd>
            <Ago iso={r.updated_at} />
          </dd>
        </dl>
      </section>
      <section className="card" aria-labelledby="rollout-targets">
        <div className="card-head">
          <h2 id="rollout-targets">Targets</h2>
          <FilterSelect
            label="Filter targets by outcome"
            value={outcome ?? ''}
            allLabel={`All outcomes (${r.outcomes.total})`}
            options={OUTCOMES.map((o) => ({ value: o, label: `${configStateLabel(o)} (${r.outcomes[o]})` }))}
            onChange={(v) => setParam('outcome', v)}
          />
        </div>
        {!targets.items.length ? (
          <Empty>{outcome ? `No target is ${configStateLabel(outcome)}.` : 'No target.'}</Empty>
        ) : (
          <>
            <DataTable testId="targets-table" caption={`Targets of rollout ${r.id}`} columns={TARGET_COLUMNS}>
              {targets.items.map((t) => (
                <tr key={t.orchestrator_id} data-orchestrator-id={t.orchestrator_id}>
                  <td>
                    <Link to={`/organizations/${encodeURIComponent(t.orchestrator_id)}`} className="mono">
                      {t.orchestrator_id}
                    </Link>
                  </td>
                  <td className="num">{t.wave + 1}</td>
                  <td className="mono">{revisionLabel(t.revision)}</td>
                  <td>
                    <ConfigStateBadge state={t.outcome} size="sm" />
                  </td>
                  <td className="small">{t.error ?? ''}</td>
                </tr>
              ))}
            </DataTable>
            <Pager
              label="Target pages"
              page={Math.min(page, Math.max(1, targets.total_pages))}
              pages={Math.max(1, targets.total_pages)}
              onPage={(p) => setParam('page', p > 1 ? String(p) : '')}
            />
          </>
        )}
      </section>
    </>
  );
}

/** Pause, Resume and Abort, each enabled only in a state that allows it; Abort asks first. */
function RolloutActions({ rollout: r }: { rollout: Rollout }) {
  const control = useControlRollout(r.id);
  const [aborting, setAborting] = useState(false);
  const act = (action: RolloutAction) => control.mutate(action, { onSettled: () => setAborting(false) });
  const busy = control.isPending;
  return (
    <>
      <button type="button" className="btn" disabled={busy || !canAct(r.state, 'pause')} onClick={() => act('pause')}>
        Pause
      </button>
      <button type="button" className="btn btn-primary" disabled={busy || !canAct(r.state, 'resume')} onClick={() => act('resume')}>
        Resume
      </button>
      <button type="button" className="btn btn-danger" disabled={busy || !canAct(r.state, 'abort')} onClick={() => setAborting(true)}>
        Abort
      </button>
      {aborting && (
        <ConfirmDialog
          title={`Abort rollout ${r.id}?`}
          confirmLabel="Abort"
          tone="danger"
          busy={busy}
          onConfirm={() => act('abort')}
          onCancel={() => setAborting(false)}
        >
          No further wave starts. Orchestrators already told keep the configuration they were given.
        </ConfirmDialog>
      )}
    </>
  );
}
