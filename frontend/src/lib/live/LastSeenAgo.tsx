import { Ago } from '../time/Ago';
import { newest } from '../time/format';
import { useLastSeen } from './lastSeen';

interface Props {
  /** The orchestrators whose newest heartbeat counts. */
  ids: string[];
  /** Times the page already has (the list's `last_seen`, `last_keepalive`). */
  known?: (string | null | undefined)[];
}

/**
 * "Last seen: 3 s ago", ticking every second and kept within ~2 s of the
 * controller: the newest of what the page loaded and the polled live view.
 */
export function LastSeenAgo({ ids, known = [] }: Props) {
  const live = useLastSeen(ids);
  const iso = newest(...known, ...ids.map((id) => live[id]?.last_keepalive));
  return (
    <span data-testid="last-seen" data-ids={ids.join(',')}>
      <Ago iso={iso} />
    </span>
  );
}
