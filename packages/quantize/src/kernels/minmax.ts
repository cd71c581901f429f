/**
 * Streaming min/max of a tensor over calibration batches (onnxruntime's MinMaxCalibrater without moving average):
 * O(1) memory per tensor.
 */
export class MinMaxCollector {
  min = Infinity;
  max = -Infinity;
  count = 0;

  /** Adds one batch of values (NaN ignored). */
  collect(data: ArrayLike<number>): void {
    let lo = this.min;
    let hi = this.max;
    for (let i = 0; i < data.length; i++) {
      const x = data[i]!;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    this.min = lo;
    this.max = hi;
    this.count += data.length;
  }

  /** The observed range, [0, 0] when nothing was seen. */
  range(): [number, number] {
    return this.count === 0 ? [0, 0] : [this.min, this.max];
  }
}
