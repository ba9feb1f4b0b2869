/** "reported as …": what the orchestrator's last handshake announced, when it differs from what is shown. */
export function Reported({ shown, reported }: { shown: string | null | undefined; reported: string | null | undefined }) {
  if (!reported || reported === (shown ?? '')) return null;
  return (
    <span className="reported" data-testid="reported">
      reported as “{reported}”
    </span>
  );
}
