// Running percentiles and frame-rate counting for the timing panel.

/**
 * The q-th percentile (0..100) by linear interpolation, as numpy's default; null when empty.
 * @param {number[]} values
 * @param {number} q
 * @returns {number | null}
 */
export function percentile(values, q) {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const pos = ((s.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** Counts frames drawn over a sliding one-second window. */
export class FpsMeter {
  constructor() {
    /** @type {number[]} */
    this.stamps = [];
  }
  /** @param {number} now */
  tick(now) {
    this.stamps.push(now);
    while (this.stamps.length && this.stamps[0] < now - 1000) this.stamps.shift();
  }
  /** @param {number} now */
  fps(now) {
    while (this.stamps.length && this.stamps[0] < now - 1000) this.stamps.shift();
    return this.stamps.length;
  }
}
