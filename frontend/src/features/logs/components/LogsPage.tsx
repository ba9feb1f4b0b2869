import { useDeferredValue, useEffect, useMemo, useState } from 'react';
import { useSearchParams } from 'react-router';
import { Empty, ErrorState, Loading, PageHeader } from '@lib/ui/states';
import { Switch } from '@lib/ui/Switch';
import { DataTable } from '@lib/ui/DataTable';
import { FilterSelect, SearchInput } from '@lib/ui/toolbar';
import { useSetParam } from '@lib/url/useSetParam';
import { formatDateTime, formatTime, viewerTimeZone } from '@lib/time/format';
import { useLogs } from '../api/listLogs';

const LEVELS = ['ERROR', 'WARNING', 'INFO', 'DEBUG'];
const BASE_SOURCES = ['core', 'persister'];
const LOG_COLUMNS = [{ label: 'Time' }, { label: 'Level' }, { label: 'Source' }, { label: 'Message' }];

function levelClass(level: string): string {
  const l = level.toUpperCase();
  if (l === 'ERROR' || l === 'CRITICAL') return 'lvl-error';
  if (l === 'WARNING' || l === 'WARN') return 'lvl-warn';
  if (l === 'DEBUG' || l === 'TRACE') return 'lvl-debug';
  return 'lvl-info';
}

export function LogsPage() {
  const [params] = useSearchParams();
  const set = useSetParam();
  const [q, setQ] = useState(params.get('q') ?? '');
  const level = params.get('level') ?? '';
  const source = params.get('source') ?? '';
  const [tail, setTail] = useState(params.get('tail') === '1');
  // Ask the API only once typing pauses.
  const [debounced, setDebounced] = useState(q);
  useEffect(() => {
    const t = window.setTimeout(() => setDebounced(q.trim()), 300);
    return () => window.clearTimeout(t);
  }, [q]);
  const dq = useDeferredValue(debounced);

  const logs = useLogs({ q: dq || undefined, level: level || undefined, source: source || undefined, limit: 500 }, tail);
  // Every source seen so far stays in the filter, whatever the current query shows.
  const [seen, setSeen] = useState<{ from?: unknown; sources: string[] }>({ sources: BASE_SOURCES });
  if (logs.data && logs.data !== seen.from) {
    const s = new Set(seen.sources);
    for (const r of logs.data) s.add(r.source);
    setSeen({ from: logs.data, sources: s.size === seen.sources.length ? seen.sources : [...s].sort() });
  }
  const sources = seen.sources;

  const stats = useMemo(() => {
    const items = logs.data ?? [];
    return {
      errors: items.filter((r) => levelClass(r.level) === 'lvl-error').length,
      warnings: items.filter((r) => levelClass(r.level) === 'lvl-warn').length,
      last: items[0]?.timestamp,
    };
  }, [logs.data]);

  return (
    <>
      <PageHeader
        title="Logs"
        subtitle={`Recent log of the whole cluster (core, persister, edges), newest first. Times in ${viewerTimeZone()}.`}
        actions={
          <button type="button" className="btn" onClick={() => logs.refetch()} aria-label="Refresh logs">
            Refresh
          </button>
        }
      />
      <section className="tiles tiles-3" aria-label="Log figures">
        <div className="tile tile-red">
          <span className="tile-label">Errors (shown)</span>
          <span className="tile-value">{logs.data ? stats.errors : '—'}</span>
        </div>
        <div className="tile tile-amber">
          <span className="tile-label">Warnings (shown)</span>
          <span className="tile-value">{logs.data ? stats.warnings : '—'}</span>
        </div>
        <div className="tile">
          <span className="tile-label">Last event</span>
          <span className="tile-value tile-value-sm">{stats.last ? formatDateTime(stats.last) : '—'}</span>
        </div>
      </section>
      <div className="toolbar" role="search" aria-label="Log filters">
        <SearchInput
          label="Search logs"
          placeholder="Search messages"
          value={q}
          onChange={(v) => {
            setQ(v);
            set('q', v.trim());
          }}
        />
        <FilterSelect label="Filter by level" value={level} allLabel="All levels" options={LEVELS} onChange={(v) => set('level', v)} />
        <FilterSelect label="Filter by source" value={source} allLabel="All sources" options={sources} onChange={(v) => set('source', v)} />
        <label className="inline-switch">
          <Switch
            checked={tail}
            label="Live tail"
            onChange={(v) => {
              setTail(v);
              set('tail', v ? '1' : '');
            }}
          />
          <span aria-hidden="true">Live tail</span>
        </label>
      </div>
      <section className="card">
        {logs.isPending ? (
          <Loading what="logs" />
        ) : logs.isError && !logs.data ? (
          <ErrorState what="logs" error={logs.error} onRetry={() => logs.refetch()} />
        ) : !logs.data.length ? (
          <Empty>No log line matches.</Empty>
        ) : (
          <>
            <p className="muted small" data-testid="log-count" aria-live="polite">
              {logs.data.length} line{logs.data.length === 1 ? '' : 's'}
              {tail ? ' · live tail, every 2 s' : ''}
            </p>
            <DataTable testId="logs-table" caption="Log lines" columns={LOG_COLUMNS} className="logs" wrapClassName="logs-wrap">
              {logs.data.map((r, i) => (
                <tr key={`${r.timestamp}-${i}`} className="log-row" data-ts={r.timestamp}>
                  <td className="mono nowrap" title={formatDateTime(r.timestamp)}>
                    {formatTime(r.timestamp)}
                  </td>
                  <td>
                    <span className={`lvl ${levelClass(r.level)}`}>{r.level}</span>
                  </td>
                  <td className="nowrap">{r.source}</td>
                  {/* As the service's own log prints it: the message, then its fields. */}
                  <td className="mono log-msg">{r.fields ? `${r.message} ${r.fields}` : r.message}</td>
                </tr>
              ))}
            </DataTable>
          </>
        )}
      </section>
    </>
  );
}
