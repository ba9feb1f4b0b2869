import { Ago } from '@lib/time/Ago';
import { DataTable } from '@lib/ui/DataTable';
import { Empty, ErrorState, Loading } from '@lib/ui/states';
import { useCores } from '../api/listCores';

const CORE_COLUMNS = [
  { label: 'Replica' },
  { label: 'Address' },
  { label: 'Duties' },
  { label: 'Ready' },
  { label: 'Connected in its view', num: true },
  { label: 'Last announced' },
];

/** The core replicas: which one answered, which holds the singleton duties. */
export function CoresTable() {
  const cores = useCores();
  return (
    <section className="card" aria-labelledby="cores-title">
      <h2 id="cores-title">Core replicas</h2>
      <p className="muted">
        Every replica serves the whole API and dashboard. One holds the singleton duties (the liveness sweep, token
        generations, the first admin); another takes them over within seconds if it stops.
      </p>
      {cores.isPending ? (
        <Loading what="core replicas" />
      ) : cores.isError ? (
        <ErrorState what="core replicas" error={cores.error} onRetry={() => cores.refetch()} />
      ) : !cores.data.cores.length ? (
        <Empty>No core replica announced itself in the last 3 s.</Empty>
      ) : (
        <DataTable testId="cores-table" caption="Core replicas" columns={CORE_COLUMNS}>
          {cores.data.cores.map((c) => (
            <tr key={c.core_id} data-core-id={c.core_id}>
              <td>
                <span className={`dot ${c.ready ? 'dot-green' : 'dot-red'}`} aria-hidden="true" /> {c.core_id}
                {c.core_id === cores.data.answered_by ? ' (this page)' : ''}
              </td>
              <td className="mono">{c.address}</td>
              <td data-testid="core-duties">{c.duties.length ? c.duties.join(', ') : '–'}</td>
              <td>{c.ready ? 'yes' : 'no'}</td>
              <td className="num">{c.connected.toLocaleString()}</td>
              <td>
                <Ago iso={c.at} />
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </section>
  );
}
