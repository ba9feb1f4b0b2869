import { Link } from 'react-router';
import type { OrchestratorMessage } from '../api/types';
import { Ago } from '../time/Ago';
import { useSetMessageStatus } from './setMessageStatus';

/**
 * One message with its direction, type, age, status and, while pending and only
 * if the orchestrator wrote it, Accept / Dismiss (a controller's own message is
 * not the controller's to accept).
 */
export function MessageItem({
  message,
  showOrchestrator,
  actions = true,
}: {
  message: OrchestratorMessage;
  showOrchestrator?: boolean;
  actions?: boolean;
}) {
  const mutation = useSetMessageStatus();
  const busy = mutation.isPending;
  const short = message.content.length > 40 ? `${message.content.slice(0, 40)}…` : message.content;
  const direction = message.direction;
  const answerable = direction === 'from_orchestrator';
  return (
    <li
      className="message"
      data-message-id={message.id}
      data-orchestrator-id={message.orchestrator_id}
      data-status={message.status}
      data-direction={direction}
    >
      <div className="message-head">
        <span className={`chip chip-dir-${direction}`} data-testid="message-direction">
          {direction === 'from_orchestrator' ? 'from the orchestrator' : 'sent by the controller'}
        </span>
        <span className={`chip chip-${message.message_type}`}>{message.message_type}</span>
        {showOrchestrator && (
          <Link className="muted-link" to={`/organizations/${encodeURIComponent(message.orchestrator_id)}`}>
            {message.orchestrator_id}
          </Link>
        )}
        <span className="muted small">
          <Ago iso={message.created_at} />
        </span>
        <span className="spacer" />
        {message.status === 'pending' && actions && answerable ? (
          <span className="message-actions">
            <button
              type="button"
              className="btn btn-sm btn-primary"
              disabled={busy}
              aria-label={`Accept message: ${short}`}
              onClick={() => mutation.mutate({ id: message.id, status: 'accepted' })}
            >
              Accept
            </button>
            <button
              type="button"
              className="btn btn-sm"
              disabled={busy}
              aria-label={`Dismiss message: ${short}`}
              onClick={() => mutation.mutate({ id: message.id, status: 'dismissed' })}
            >
              Dismiss
            </button>
          </span>
        ) : (
          <span className={`chip chip-status-${message.status}`} data-testid="message-status">
            {message.status}
          </span>
        )}
      </div>
      <p className="message-content">{message.content}</p>
    </li>
  );
}
