// Three shapes of Prometheus metric read from numbers kept elsewhere, at scrape time, through
// prom-client (which does the text encoding):
//   snapshotGauge      a gauge whose series are what a function returns now (a gone node's series goes);
//   cumulativeCounter  a counter from a running total kept elsewhere; never reported lower than it
//                      was (a client gone from a sum would otherwise look like a reset to Prometheus);
//   snapshotHistogram  histograms kept elsewhere as per-bucket counts, reported with cumulative buckets.

import { Counter, Gauge, type Metric, type Registry } from 'prom-client'

export type Labels = Record<string, string | number>
export interface Sample {
  labels: Labels
  value: number
}

interface Definition {
  name: string
  help: string
  labelNames?: readonly string[]
}

export function snapshotGauge(registry: Registry, def: Definition, read: () => Sample[]): Gauge {
  return new Gauge({
    ...def,
    labelNames: def.labelNames ?? [],
    registers: [registry],
    collect() {
      this.reset()
      for (const { labels, value } of read()) this.set(labels, value)
    },
  })
}

export function cumulativeCounter(registry: Registry, def: Definition, read: () => Sample[]): Counter {
  const highest = new Map<string, number>()
  return new Counter({
    ...def,
    labelNames: def.labelNames ?? [],
    registers: [registry],
    collect() {
      this.reset()
      for (const { labels, value } of read()) {
        const key = JSON.stringify(labels)
        const reported = Math.max(highest.get(key) ?? 0, value)
        highest.set(key, reported)
        this.inc(labels, reported)
      }
    },
  })
}

/** One histogram series: counts[i] falls in (bounds[i-1], bounds[i]]; a last count, above every bound. */
export interface HistogramSample {
  labels: Labels
  counts: readonly number[]
  sum: number
  count: number
}

export function snapshotHistogram(registry: Registry, def: Definition & { bounds: readonly number[] }, read: () => HistogramSample[]): void {
  const { name, help, bounds } = def
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    labelNames: def.labelNames ?? [],
    async get() {
      const values: { metricName: string; labels: Labels; value: number }[] = []
      for (const series of read()) {
        let below = 0
        for (let i = 0; i < bounds.length; i++) {
          below += series.counts[i] ?? 0
          values.push({ metricName: `${name}_bucket`, labels: { ...series.labels, le: bounds[i]! }, value: below })
        }
        // +Inf is every observation: the count, whatever a lagging bucket array says.
        values.push({ metricName: `${name}_bucket`, labels: { ...series.labels, le: '+Inf' }, value: series.count })
        values.push({ metricName: `${name}_sum`, labels: series.labels, value: series.sum })
        values.push({ metricName: `${name}_count`, labels: series.labels, value: series.count })
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values }
    },
    reset() {},
  }
  // prom-client's Metric type names its own classes; the registry needs only name, help, type and get().
  registry.registerMetric(metric as unknown as Metric)
}
