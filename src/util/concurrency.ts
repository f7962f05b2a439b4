// How many of something run at once, as an option gives it: a whole number of at least 1. A value
// that is not a finite number (NaN from a bad parse, Infinity) takes the default: taken as it is,
// NaN starts nothing at all, since every `running < NaN` is false.

export function concurrencyOf(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) ? Math.max(1, Math.floor(value)) : fallback
}
