import { useEffect, useRef } from 'react';
import { CopyBlock } from '@lib/ui/CopyBlock';
import { useEdgeUrls } from '../api/listEdgeUrls';
import { agentCommand, firstVersionSettings } from '../connect';

interface Props {
  orchestratorId: string;
  /** `register`'s answer: null when this controller issues no tokens. */
  token: string | null;
  onDone(): void;
}

/**
 * How to connect the orchestrator just registered. `register` answers its token
 * once and the controller keeps only the token's generation, so this is the one
 * chance to copy it: the dialog stays until Done.
 */
export function ConnectOrchestrator({ orchestratorId: id, token, onDone }: Props) {
  const edges = useEdgeUrls();
  const urls = edges.data ?? [];
  const firstCopy = useRef<HTMLButtonElement>(null);
  // The form that had the focus is gone; the first thing to do here is copying.
  useEffect(() => firstCopy.current?.focus(), []);

  const edgesNote = edges.isPending
    ? 'Looking up the edges…'
    : urls.length
      ? `The ${urls.length === 1 ? 'edge' : `${urls.length} edges`} up now, as ${urls.length === 1 ? 'it announces itself' : 'they announce themselves'} (an edge listening on every interface is shown at this page's host name). Change the addresses if the orchestrator reaches the edges under other names.`
      : 'No edge is up now: put the address of an edge in place of the placeholder.';

  return (
    <div className="connect" data-testid="connect-orchestrator">
      <p className="dialog-body" role="status">
        Organization <span className="mono">{id}</span> created. It stays inactive until its orchestrator connects.
      </p>
      {token ? (
        <>
          <section className="connect-section" aria-labelledby="connect-token">
            <h3 id="connect-token">Orchestrator token</h3>
            <p className="notice" data-testid="token-once">
              Shown only now: the controller keeps no copy of it. Copy it before you close this dialog. A new one (which
              voids this one) is issued by <span className="mono">POST /api/v1/internal/orchestrators/{id}/token</span>.
            </p>
            <CopyBlock ref={firstCopy} label="orchestrator token" text={token} />
          </section>
          <section className="connect-section" aria-labelledby="connect-agent">
            <h3 id="connect-agent">Moolai agent</h3>
            <p className="muted small">On the orchestrator&apos;s machine:</p>
            <CopyBlock label="agent command line" text={agentCommand(id, urls, token)} />
            <p className="muted small" data-testid="edges-note">
              {edgesNote}
            </p>
          </section>
          <section className="connect-section" aria-labelledby="connect-v1">
            <h3 id="connect-v1">First-version client</h3>
            <p className="muted small">
              Its settings, with the token in the URL (<span className="mono">?token=</span>):
            </p>
            <CopyBlock label="first-version client settings" text={firstVersionSettings(id, urls[0], token)} />
            <p className="notice notice-red" data-testid="token-url-warning">
              A token in a URL lands in that client&apos;s logs, which print the URL it connects to: anyone who reads
              them can connect as {id}. Keep those logs private, or use the agent, which sends the token in a header.
            </p>
          </section>
        </>
      ) : (
        <section className="connect-section" aria-labelledby="connect-agent">
          <p className="notice" data-testid="no-token">
            No orchestrator token was issued: this controller has no <span className="mono">ORCHESTRATOR_TOKEN_SECRET</span>,
            so only edges that accept orchestrators without a token (
            <span className="mono">EDGE_REQUIRE_ORCHESTRATOR_TOKEN=false</span>) let it connect.
          </p>
          <h3 id="connect-agent">Moolai agent</h3>
          <CopyBlock ref={firstCopy} label="agent command line" text={agentCommand(id, urls, null)} />
          <p className="muted small" data-testid="edges-note">
            {edgesNote}
          </p>
        </section>
      )}
      <div className="dialog-actions">
        <button type="button" className="btn btn-primary" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}
