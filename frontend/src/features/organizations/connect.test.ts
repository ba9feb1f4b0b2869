import { describe, expect, it } from 'vitest';
import { agentCommand, edgeUrl, firstVersionSettings, shellWord, tokenUrl } from './connect';

const page = { protocol: 'http:', hostname: 'controller.example' };

describe('connecting a new orchestrator', () => {
  it("makes an edge's URL from the address it announces", () => {
    expect(edgeUrl('10.0.0.5:8766', page)).toBe('ws://10.0.0.5:8766/ws');
    expect(edgeUrl('[fd00::5]:8766', page)).toBe('ws://[fd00::5]:8766/ws');
    // Listening on every interface names no host: the page's stands in.
    expect(edgeUrl('0.0.0.0:8768', page)).toBe('ws://controller.example:8768/ws');
    expect(edgeUrl('[::]:8768', page)).toBe('ws://controller.example:8768/ws');
    expect(edgeUrl('10.0.0.5:8766', { ...page, protocol: 'https:' })).toBe('wss://10.0.0.5:8766/ws');
  });

  it('quotes only what a shell would read', () => {
    expect(shellWord('mo1.org-1.3.AbC_-x')).toBe('mo1.org-1.3.AbC_-x');
    expect(shellWord('ws://h:1/ws?token=x')).toBe("'ws://h:1/ws?token=x'");
    expect(shellWord("it's")).toBe("'it'\\''s'");
  });

  it('writes the agent command line with every edge and the token', () => {
    expect(agentCommand('org-9', ['ws://a:1/ws', 'ws://b:2/ws'], 'mo1.org-9.1.sig')).toBe(
      'moolai-agent --id org-9 --url ws://a:1/ws,ws://b:2/ws --state-file agent-org-9.json --token mo1.org-9.1.sig',
    );
    expect(agentCommand('org-9', [], null)).toBe(
      "moolai-agent --id org-9 --url '<edge WebSocket URL>' --state-file agent-org-9.json",
    );
  });

  it('puts the token in the URL for the first-version client', () => {
    expect(tokenUrl('ws://a:1/ws', 'mo1.x.1.s')).toBe('ws://a:1/ws?token=mo1.x.1.s');
    expect(tokenUrl('ws://a:1/ws?v=1', 'mo1.x.1.s')).toBe('ws://a:1/ws?v=1&token=mo1.x.1.s');
    expect(firstVersionSettings('org-9', 'ws://a:1/ws', 'mo1.org-9.1.sig')).toBe(
      "export ORCHESTRATOR_ID=org-9\nexport CONTROLLER_WS_URL='ws://a:1/ws?token=mo1.org-9.1.sig'",
    );
  });
});
