import { Ago } from '@lib/time/Ago';
import { DEFAULT_RATE_WINDOW_SEC, formatRate } from '@lib/live/statsStore';
import { Empty, ErrorState, Loading, PageHeader } from '@lib/ui/states';
import { useEdges } from '../api/listEdges';
import { CoresTable } from './CoresTable';

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
          <div className="table-wrap">
            <table className="table" data-testid="edges-table">
              <caption className="sr-only">Edge nodes</caption>
              <thead>
                <tr>
                  <th scope="col">Edge</th>
                  <th scope="col">Address</th>
                  <th scope="col" className="num">Connections</th>
                  <th scope="col" className="num">Heartbeats/s ({DEFAULT_RATE_WINDOW_SEC} s avg)</th>
                  <th scope="col" className="num">Bad frames</th>
                  <th scope="col">Last announced</th>
                </tr>
              </thead>
              <tbody>
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
              </tbody>
              <tfoot>
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
              </tfoot>
            </table>
          </div>
        )}
      </section>
      <CoresTable />
    </>
  );
}
