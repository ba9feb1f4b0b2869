import { useSearchParams } from 'react-router';
import { MessageItem } from '@lib/messages/MessageItem';
import { Empty, ErrorState, Loading, PageHeader } from '@lib/ui/states';
import { FilterSelect } from '@lib/ui/toolbar';
import { useSetParam } from '@lib/url/useSetParam';
import type { MessageStatus, MessageType } from '@lib/api/types';
import { useMessages, type MessageFilters } from '../api/listMessages';

const TYPES: readonly MessageType[] = ['recommendation', 'monitoring'];
const STATUSES: readonly MessageStatus[] = ['pending', 'accepted', 'dismissed'];
const LIMITS = [100, 500, 1000];
const LIMIT_OPTIONS = LIMITS.map((l) => ({ value: String(l), label: `last ${l}` }));

export function MessagesPage() {
  const [params] = useSearchParams();
  const set = useSetParam();
  const type = TYPES.find((t) => t === params.get('type'));
  const status = STATUSES.find((s) => s === params.get('status'));
  const limit = LIMITS.find((l) => String(l) === params.get('limit')) ?? 100;
  const filters: MessageFilters = { message_type: type, status, limit };
  const messages = useMessages(filters);

  return (
    <>
      <PageHeader title="Messages" subtitle="Recommendations and monitoring messages of every orchestrator, newest first." />
      <div className="toolbar" role="search" aria-label="Message filters">
        <FilterSelect label="Filter by message type" value={type ?? ''} allLabel="All types" options={TYPES} onChange={(v) => set('type', v)} />
        <FilterSelect label="Filter by message status" value={status ?? ''} allLabel="All statuses" options={STATUSES} onChange={(v) => set('status', v)} />
        <FilterSelect
          label="Number of messages"
          value={limit}
          options={LIMIT_OPTIONS}
          onChange={(v) => set('limit', v === String(LIMITS[0]) ? '' : v)}
        />
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
