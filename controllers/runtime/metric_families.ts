// Labelled counters and histograms in the Prometheus text format, for the
// metrics controllers define (the runtime's own live in metrics.ts). Values
// are kept per label set; render() gives the family's lines.

export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** `{a="1",b="2"}` for the given names and values ("" without labels). */
export function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return "";
  return `{${names.map((n, i) => `${n}="${escapeLabel(values[i] ?? "")}"`).join(",")}}`;
}

function header(name: string, type: string, help: string): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
}

export class CounterFamily {
  private values = new Map<string, { labels: string[]; n: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  inc(labels: string[], by = 1): void {
    const key = JSON.stringify(labels);
    const v = this.values.get(key) ?? { labels, n: 0 };
    v.n += by;
    this.values.set(key, v);
  }

  get(labels: string[]): number {
    return this.values.get(JSON.stringify(labels))?.n ?? 0;
  }

  /** Makes a series appear (at zero) before anything happened. */
  declare(labels: string[]): void {
    this.inc(labels, 0);
  }

  render(): string[] {
    return [
      ...header(this.name, "counter", this.help),
      ...[...this.values.values()].map((v) =>
        `${this.name}${labelText(this.labelNames, v.labels)} ${v.n}`
      ),
    ];
  }
}

export class HistogramFamily {
  private series = new Map<
    string,
    { labels: string[]; counts: number[]; sum: number; n: number }
  >();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {}

  observe(labels: string[], value: number): void {
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, s = { labels, counts: this.buckets.map(() => 0), sum: 0, n: 0 });
    const i = this.buckets.findIndex((le) => value <= le);
    if (i >= 0) s.counts[i]++;
    s.sum += value;
    s.n++;
  }

  /** Makes a label set appear (at zero) before anything was observed. */
  declare(labels: string[]): void {
    const key = JSON.stringify(labels);
    if (!this.series.has(key)) {
      this.series.set(key, { labels, counts: this.buckets.map(() => 0), sum: 0, n: 0 });
    }
  }

  /** Observations so far for one label set. */
  count(labels: string[]): number {
    return this.series.get(JSON.stringify(labels))?.n ?? 0;
  }

  render(): string[] {
    const out = header(this.name, "histogram", this.help);
    const names = [...this.labelNames, "le"];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i];
        out.push(`${this.name}_bucket${labelText(names, [...s.labels, String(le)])} ${cumulative}`);
      });
      out.push(`${this.name}_bucket${labelText(names, [...s.labels, "+Inf"])} ${s.n}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, s.labels)} ${s.sum}`);
      out.push(`${this.name}_count${labelText(this.labelNames, s.labels)} ${s.n}`);
    }
    return out;
  }
}

/** A gauge computed at scrape time: one line per label set. */
export function gaugeLines(
  name: string,
  help: string,
  labelNames: readonly string[],
  values: Map<string, { labels: string[]; value: number }>,
): string[] {
  return [
    ...header(name, "gauge", help),
    ...[...values.values()].map((v) => `${name}${labelText(labelNames, v.labels)} ${v.value}`),
  ];
}
