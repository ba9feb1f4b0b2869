import { Ago } from '@lib/time/Ago';
import { DEFAULT_RATE_WINDOW_SEC, formatRate } from '@lib/live/statsStore';
import { Empty, ErrorState, Loading, PageHeader } from '@lib/ui/states';
import { DataTable } from '@lib/ui/DataTable';
import { useEdges } from '../api/listEdges';
import { CoresTable } from './CoresTable';

const EDGE_COLUMNS = [
  { label: 'Edge' },
  { label: 'Address' },
  { label: 'Connections', num: true },
  { label: `Heartbeats/s (${DEFAULT_RATE_WINDOW_SEC} s avg)`, num: true },
  { label: 'Bad frames', num: true },
  { label: 'Last announced' },
];

export function EdgesPage() {
  const edges = useEdges();
  const total = edges.data?.reduce((n, e) => n + e.connections, 0) ?? 0;
  return (
    <>
      <PageHeader
        title="Edges and cores"
        subtitle={`Edge nodes terminate the orchestrators' WebSockets. Listed: those heard in the last 15 s. Heartbeats/s: every heartbeat an edge received (independent orchestrators' too), averaged over ${DEFAULT_RATE_WINDOW_SEC} s, as the Dashboard's "received" figure.`}
      />
      <section className="card">
        {edges.isPending ? (
          <Loading what="edges" />
        ) : edges.isError ? (
          <ErrorState what="edges" error={edges.error} onRetry={() => edges.refetch()} />
        ) : !edges.data.length ? (
          <Empty>No edge is up. Start one with scripts/stack.sh.</Empty>
        ) : (
          <DataTable
            testId="edges-table"
            caption="Edge nodes"
            columns={EDGE_COLUMNS}
            footer={
              <tr>
                <th scope="row" colSpan={2}>
                  {edges.data.length} edge{edges.data.length === 1 ? '' : 's'}
                </th>
                <td className="num">{total.toLocaleString()}</td>
                <td className="num" data-testid="edges-hb-total">
                  {formatRate(edges.data.reduce((n, e) => n + e.heartbeats_per_sec, 0))}
                </td>
                <td colSpan={2} />
              </tr>
            }
          >
            {edges.data.map((e) => (
              <tr key={e.edge_id} data-edge-id={e.edge_id}>
                <td>
                  <span className="dot dot-green" aria-hidden="true" /> {e.edge_id}
                </td>
                <td className="mono">{e.address}</td>
                <td className="num">{e.connections.toLocaleString()}</td>
                <td className="num">{formatRate(e.heartbeats_per_sec)}</td>
                <td className="num">{e.bad_frames.toLocaleString()}</td>
                <td>
                  <Ago iso={e.at} />
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>
      <CoresTable />
    </>
  );
}
