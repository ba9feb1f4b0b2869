import type { Orchestrator } from '@lib/api/types';
import { StatusBadge } from '@lib/ui/StatusBadge';
import { LastSeenAgo } from '@lib/live/LastSeenAgo';
import { useSetIndependence } from '../api/setIndependence';
import { IndependenceToggle } from './IndependenceToggle';

/** One orchestrator instance: status, connection, last seen and its independence switch. */
export function InstanceRow({ instance }: { instance: Orchestrator }) {
  const setIndependence = useSetIndependence();
  const id = instance.orchestrator_id;
  return (
    <li className="instance" data-orchestrator-id={id}>
      <div className="instance-head">
        <span className="instance-name">
          <span className="mono">{id}</span>
          {instance.name && instance.name !== id && <span className="muted"> · {instance.name}</span>}
        </span>
        <StatusBadge status={instance.status} size="sm" />
      </div>
      <div className="instance-meta muted small">
        <span>{instance.connected ? `Connected via ${instance.edge_id ?? 'an edge'}` : 'Not connected'}</span>
        <span>
          Last seen: <LastSeenAgo ids={[id]} known={[instance.last_seen, instance.last_keepalive]} />
        </span>
        <span>Health: {instance.health_status}</span>
      </div>
      <IndependenceToggle
        orchestratorId={id}
        independent={instance.status === 'independent'}
        onToggle={(next) => setIndependence.mutateAsync({ orchestratorId: id, isIndependent: next })}
      />
    </li>
  );
}
