import { formatAgo, formatDateTime } from './format';
import { useNow } from './useNow';

/** "12 s ago", with the full local date and time on hover and for screen readers. */
export function Ago({ iso, prefix }: { iso: string | null | undefined; prefix?: string }) {
  const now = useNow();
  const text = formatAgo(iso, now);
  return (
    <time dateTime={iso ?? undefined} title={formatDateTime(iso)}>
      {prefix}
      {text}
    </time>
  );
}
