import { useSearchParams } from 'react-router';
import { MessageItem } from '@lib/messages/MessageItem';
import { Empty, ErrorState, Loading, PageHeader } from '@lib/ui/states';
import { useMessages, type MessageFilters } from '../api/listMessages';

const TYPES = ['recommendation', 'monitoring'] as const;
const STATUSES = ['pending', 'accepted', 'dismissed'] as const;
const LIMITS = [100, 500, 1000];

export function MessagesPage() {
  const [params, setParams] = useSearchParams();
  const type = TYPES.find((t) => t === params.get('type'));
  const status = STATUSES.find((s) => s === params.get('status'));
  const limit = LIMITS.find((l) => String(l) === params.get('limit')) ?? 100;
  const filters: MessageFilters = { message_type: type, status, limit };
  const messages = useMessages(filters);

  const set = (k: string, v: string) => {
    const p = new URLSearchParams(params);
    if (v) p.set(k, v);
    else p.delete(k);
    setParams(p, { replace: true });
  };

  return (
    <>
      <PageHeader title="Messages" subtitle="Recommendations and monitoring messages of every orchestrator, newest first." />
      <div className="toolbar" role="search" aria-label="Message filters">
        <select className="input" aria-label="Filter by message type" value={type ?? ''} onChange={(e) => set('type', e.target.value)}>
          <option value="">All types</option>
          {TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <select className="input" aria-label="Filter by message status" value={status ?? ''} onChange={(e) => set('status', e.target.value)}>
          <option value="">All statuses</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <select className="input" aria-label="Number of messages" value={limit} onChange={(e) => set('limit', e.target.value === '100' ? '' : e.target.value)}>
          {LIMITS.map((l) => (
            <option key={l} value={l}>
              last {l}
            </option>
          ))}
        </select>
        {messages.isFetching && !messages.isPending && <span className="spinner" role="status" aria-label="Refreshing" />}
      </div>
      <section className="card">
        {messages.isPending ? (
          <Loading what="messages" />
        ) : messages.isError && !messages.data ? (
          <ErrorState what="messages" error={messages.error} onRetry={() => messages.refetch()} />
        ) : (
          <>
            {messages.data.held > 0 && (
              <p className="notice" data-testid="messages-held">
                {messages.data.held} message{messages.data.held === 1 ? ' is' : 's are'} held: {messages.data.held === 1 ? 'its' : 'their'}{' '}
                orchestrator operates independently. They are not shown, not delivered and cannot be answered until its
                independence ends.
              </p>
            )}
            {!messages.data.messages.length ? (
              <Empty>No {[status, type].filter(Boolean).join(' ')} messages.</Empty>
            ) : (
              <>
                <p className="muted small" data-testid="message-count">
                  {messages.data.messages.length} message{messages.data.messages.length === 1 ? '' : 's'}
                </p>
                <ul className="message-list" aria-label="Messages">
                  {messages.data.messages.map((m) => (
                    <MessageItem key={m.id} message={m} showOrchestrator />
                  ))}
                </ul>
              </>
            )}
          </>
        )}
      </section>
    </>
  );
}
