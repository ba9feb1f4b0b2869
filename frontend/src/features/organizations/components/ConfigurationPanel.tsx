import { useState } from 'react';
import type { ConfigRevision, OrchestratorConfig } from '@lib/api/types';
import { ApiError, describeError } from '@lib/api/errors';
import { ConfigStateBadge } from '@lib/config/ConfigStateBadge';
import { configState, hasDrift, revisionLabel, shortHash } from '@lib/config/state';
import { ConfirmDialog } from '@lib/ui/ConfirmDialog';
import { DataTable, type Column } from '@lib/ui/DataTable';
import { Empty, ErrorState, Loading } from '@lib/ui/states';
import { Ago } from '@lib/time/Ago';
import { formatDateTime } from '@lib/time/format';
import { toast } from '@lib/ui/toasts';
import { CONFIG_POLL_MS, useOrchestratorConfig } from '../api/getConfig';
import { useConfigRevisions } from '../api/listRevisions';
import { useRollbackConfig } from '../api/rollbackConfig';

const REVISION_COLUMNS: Column[] = [
  { label: 'Revision' },
  { label: 'Why' },
  { label: 'By' },
  { label: 'Created' },
  { label: 'Outcome' },
  { ariaLabel: 'Actions' },
];

function why(r: ConfigRevision): string {
  if (r.reason === 'rollback' && r.rolled_back_to != null) return `rollback to ${revisionLabel(r.rolled_back_to)}`;
  if (r.reason === 'rollout' && r.rollout_id) return `rollout ${r.rollout_id}`;
  return r.reason;
}

function Json({ value }: { value: unknown }) {
  return <pre className="json small">{JSON.stringify(value, null, 2)}</pre>;
}

/**
 * One orchestrator's configuration: the revision the controller wants against
 * the one it reported, its state, drift, the last error, the effective
 * configuration, and the revision history with "Roll back to this". Polled
 * every 2 s while it is not in sync.
 */
export function ConfigurationPanel({ orchestratorId }: { orchestratorId: string }) {
  const config = useOrchestratorConfig(orchestratorId);
  const syncing = !!config.data && !config.data.in_sync;
  const revisions = useConfigRevisions(orchestratorId, syncing ? CONFIG_POLL_MS : false);
  return (
    <section className="card" aria-labelledby="org-config" data-testid="config-panel">
      <div className="card-head">
        <h2 id="org-config">Configuration</h2>
        {config.data && <ConfigStateBadge state={configState(config.data)} />}
      </div>
      {config.isPending ? (
        <Loading what="configuration" />
      ) : config.isError ? (
        config.error instanceof ApiError && config.error.kind === 'not_found' ? (
          <Empty>No configuration is kept for {orchestratorId} yet.</Empty>
        ) : (
          <ErrorState what="configuration" error={config.error} onRetry={() => config.refetch()} />
        )
      ) : (
        <ConfigSummary config={config.data} />
      )}
      <h3 className="section-title">Revision history</h3>
      {revisions.isPending ? (
        <Loading what="revisions" />
      ) : revisions.isError ? (
        <ErrorState what="revisions" error={revisions.error} onRetry={() => revisions.refetch()} />
      ) : !revisions.data.length ? (
        <Empty>No revision yet: the first change of features makes one.</Empty>
      ) : (
        <DataTable testId="revisions-table" caption={`Configuration revisions of ${orchestratorId}`} columns={REVISION_COLUMNS}>
          {revisions.data.map((r, i) => (
            <RevisionLine
              key={r.revision}
              orchestratorId={orchestratorId}
              revision={r}
              newest={i === 0}
              desiredHash={config.data?.desired.hash}
            />
          ))}
        </DataTable>
      )}
    </section>
  );
}

function ConfigSummary({ config: c }: { config: OrchestratorConfig }) {
  const drift = hasDrift(c);
  return (
    <>
      <dl className="kv">
        <dt>Desired</dt>
        <dd data-testid="config-desired">
          <span data-testid="config-desired-revision">{revisionLabel(c.desired.revision)}</span>{' '}
          <span className="mono muted small" title={c.desired.hash}>
            {shortHash(c.desired.hash)}
          </span>
        </dd>
        <dt>Reported</dt>
        <dd data-testid="config-reported">
          {c.reported.status === 'not_reported' ? (
            'nothing reported yet'
          ) : (
            <>
              <span data-testid="config-reported-revision">{revisionLabel(c.reported.revision)}</span>{' '}
              <span className="mono muted small" title={c.reported.hash ?? undefined}>
                {shortHash(c.reported.hash)}
              </span>{' '}
              <span className="muted small">
                {c.reported.status}
                {c.reported.at && (
                  <>
                    {' '}
                    · <Ago iso={c.reported.at} />
                  </>
                )}
              </span>
            </>
          )}
        </dd>
        <dt>Connected</dt>
        <dd>{c.connected ? 'yes' : 'no (it gets the desired configuration at its next handshake)'}</dd>
      </dl>
      {drift && (
        <p className="notice" data-testid="config-drift">
          Drift: it reported {revisionLabel(c.reported.revision)} ({shortHash(c.reported.hash)}), the controller wants{' '}
          {revisionLabel(c.desired.revision)} ({shortHash(c.desired.hash)}).
        </p>
      )}
      {c.reported.error && (
        <p className="notice notice-red" data-testid="config-error">
          Last error: {c.reported.error}
        </p>
      )}
      <details className="json-details">
        <summary>Effective configuration (as it reported it)</summary>
        {c.effective ? <Json value={c.effective} /> : <p className="muted small">Nothing reported.</p>}
      </details>
      <details className="json-details">
        <summary>Desired configuration</summary>
        <Json value={c.desired.config} />
      </details>
    </>
  );
}

function RevisionLine({
  orchestratorId,
  revision: r,
  newest,
  desiredHash,
}: {
  orchestratorId: string;
  revision: ConfigRevision;
  newest: boolean;
  /** A revision with the desired content already is nothing to roll back to. */
  desiredHash: string | undefined;
}) {
  const rollback = useRollbackConfig(orchestratorId);
  const [asking, setAsking] = useState(false);
  const confirm = () =>
    rollback.mutate(r.revision, {
      onSuccess: (d) => {
        setAsking(false);
        toast(
          'success',
          `Rolled back to ${revisionLabel(d.rolled_back_to)}: ${revisionLabel(d.revision)}${d.pushed ? ' pushed' : ' will be sent at its next handshake'}.`,
        );
      },
    });
  return (
    <tr data-revision={r.revision}>
      <td className="mono">
        {revisionLabel(r.revision)} <span className="muted small">{shortHash(r.hash)}</span>
      </td>
      <td>{why(r)}</td>
      <td>{r.created_by}</td>
      <td title={formatDateTime(r.created_at)}>
        <Ago iso={r.created_at} />
      </td>
      <td>
        {r.outcome ? <ConfigStateBadge state={r.outcome} size="sm" /> : <span className="muted">—</span>}
        {r.outcome_error && <div className="small muted">{r.outcome_error}</div>}
      </td>
      <td>
        {newest ? (
          <span className="muted small">current</span>
        ) : r.hash === desiredHash ? (
          <span className="muted small">same as current</span>
        ) : (
          <button
            type="button"
            className="btn btn-sm"
            onClick={() => {
              rollback.reset();
              setAsking(true);
            }}
            aria-label={`Roll back to revision ${r.revision}`}
          >
            Roll back to this
          </button>
        )}
        {asking && (
          <ConfirmDialog
            title={`Roll back to ${revisionLabel(r.revision)}?`}
            confirmLabel="Roll back"
            busy={rollback.isPending}
            error={rollback.error ? describeError(rollback.error) : null}
            onConfirm={confirm}
            onCancel={() => setAsking(false)}
          >
            A new revision with the content of {revisionLabel(r.revision)} ({why(r)}, {formatDateTime(r.created_at)}) becomes
            the desired configuration of <span className="mono">{orchestratorId}</span> and is pushed to it now if it is
            connected.
          </ConfirmDialog>
        )}
      </td>
    </tr>
  );
}
