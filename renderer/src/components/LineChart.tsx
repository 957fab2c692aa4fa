// A small line chart in SVG for the live stats: the last N samples, scaled to the larger of the
// series' maximum and `floor`, so an idle container does not draw noise across the whole height.
export function LineChart({ label, values, floor, format }: { label: string; values: number[]; floor: number; format(v: number): string }) {
  const width = 320;
  const height = 80;
  const max = Math.max(floor, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - (v / max) * height).toFixed(1)}`).join(' ');
  const last = values[values.length - 1];
  return (
    <figure className="chart">
      <figcaption>
        {label} <strong>{last === undefined ? '—' : format(last)}</strong>
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${label}: ${last === undefined ? 'no data yet' : format(last)}`} preserveAspectRatio="none">
        <polyline points={points} fill="none" stroke="var(--accent)" strokeWidth="2" vectorEffect="non-scaling-stroke" />
      </svg>
      <div className="muted scale">max {format(max)}</div>
    </figure>
  );
}
