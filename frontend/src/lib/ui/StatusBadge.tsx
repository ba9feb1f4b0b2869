import type { FleetStatus } from '../api/types';

export type Tone = 'green' | 'gray' | 'red' | 'amber';

/** active = green, inactive = gray, independent = red; anything else amber. */
export function statusTone(status: FleetStatus | null | undefined): Tone {
  switch (status) {
    case 'active':
      return 'green';
    case 'inactive':
      return 'gray';
    case 'independent':
      return 'red';
    default:
      return 'amber';
  }
}

export function statusLabel(status: FleetStatus | null | undefined): string {
  if (!status) return 'Unknown';
  return status.charAt(0).toUpperCase() + status.slice(1);
}

/**
 * The status of an organization or instance. Pass the API's `status` field, which
 * already reads `independent` when the row is independent, and use the same
 * field for anything else on the card, so the badge and the body never disagree.
 */
export function StatusBadge({ status, size }: { status: FleetStatus | null | undefined; size?: 'sm' }) {
  const tone = statusTone(status);
  return (
    <span
      className={`badge badge-${tone}${size === 'sm' ? ' badge-sm' : ''}`}
      data-status={status ?? 'unknown'}
      data-testid="status-badge"
    >
      <span className="badge-dot" aria-hidden="true" />
      {statusLabel(status)}
    </span>
  );
}
