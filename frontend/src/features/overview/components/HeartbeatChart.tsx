import { useEffect, useRef, useState } from 'react';
import type { StatsPoint } from '@lib/live/statsStore';
import { STATS_WINDOW, formatRate } from '@lib/live/statsStore';
import { formatTime } from '@lib/time/format';

const H = 200;
const PAD = { l: 44, r: 12, t: 12, b: 26 };

/** 1, 2, 5, 10, 20, 50 … at or above `v`. */
export function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const fmt = formatRate;

/**
 * Heartbeats received per second (area) and processed (line), each point averaged
 * over core's window, from the stream: its history when it opens, then `stats`.
 */
export function HeartbeatChart({ points }: { points: StatsPoint[] }) {
  // Drawn at its real width, so text and lines are never stretched.
  const ref = useRef<HTMLElement>(null);
  const [W, setW] = useState(600);
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(([entry]) => setW(Math.max(240, Math.round(entry.contentRect.width))));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const latest = points[points.length - 1];
  const max = niceMax(Math.max(0, ...points.map((p) => p.received)) * 1.1);
  // Before the first point the axis ends when the chart was mounted (render stays pure).
  const [mountedAt] = useState(Date.now);
  const end = latest?.t ?? mountedAt;
  const start = end - (STATS_WINDOW - 1) * 1000;
  const x = (t: number) => PAD.l + ((t - start) / (end - start || 1)) * (W - PAD.l - PAD.r);
  const y = (v: number) => PAD.t + (1 - v / max) * (H - PAD.t - PAD.b);
  const line = points.map((p) => `${x(p.t).toFixed(1)},${y(p.received).toFixed(1)}`).join(' ');
  const processedLine = points.map((p) => `${x(p.t).toFixed(1)},${y(p.processed).toFixed(1)}`).join(' ');
  const anyIgnored = points.some((p) => p.ignored > 0);
  const area = points.length
    ? `${x(points[0].t).toFixed(1)},${y(0)} ${line} ${x(points[points.length - 1].t).toFixed(1)},${y(0)}`
    : '';
  const ticks = [0, max / 2, max];
  const label = latest
    ? `Heartbeats received per second over the last ${Math.round((end - points[0].t) / 1000) + 1} seconds; now ${fmt(latest.received)}, of which processed ${fmt(latest.processed)}`
    : 'Heartbeats per second: waiting for the live stream';

  return (
    <figure ref={ref} className="chart" data-testid="heartbeat-chart" data-points={points.length}>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={label}>
        <defs>
          <linearGradient id="hb-fill" x1="0" x2="0" y1="0" y2="1">
            <stop offset="0%" stopColor="#ff6b35" stopOpacity="0.35" />
            <stop offset="100%" stopColor="#ff6b35" stopOpacity="0" />
          </linearGradient>
        </defs>
        {ticks.map((v) => (
          <g key={v}>
            <line x1={PAD.l} x2={W - PAD.r} y1={y(v)} y2={y(v)} className="chart-grid" />
            <text x={PAD.l - 6} y={y(v) + 4} textAnchor="end" className="chart-axis">
              {fmt(v)}
            </text>
          </g>
        ))}
        {points.length > 1 && <polygon points={area} fill="url(#hb-fill)" />}
        {points.length > 1 && <polyline points={line} fill="none" stroke="#ff6b35" strokeWidth="2" strokeLinejoin="round" />}
        {points.length > 1 && anyIgnored && (
          <polyline points={processedLine} fill="none" stroke="#2f6fde" strokeWidth="1.5" strokeDasharray="4 3" />
        )}
        <text x={PAD.l} y={H - 6} className="chart-axis">
          {formatTime(start)}
        </text>
        <text x={W - PAD.r} y={H - 6} textAnchor="end" className="chart-axis">
          {formatTime(end)}
        </text>
      </svg>
      {!points.length ? (
        <figcaption className="muted small">Waiting for the live stream…</figcaption>
      ) : (
        anyIgnored && (
          <figcaption className="muted small">
            <span className="legend-swatch legend-received" aria-hidden="true" /> received{' '}
            <span className="legend-swatch legend-processed" aria-hidden="true" /> processed (the rest were ignored)
          </figcaption>
        )
      )}
    </figure>
  );
}
